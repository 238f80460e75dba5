//! End-to-end tests of the `openvod` binary and its services: real ffmpeg, real
//! processes, SQLite, PostgreSQL and S3 where the test says so. One test binary, so the
//! suite links once and shares its fixtures (`common::make_source`).

mod common;

mod access;
mod audio_languages;
mod av_sync;
mod bad_inputs;
mod captions;
mod chunks;
mod clips;
mod codecs;
mod cost;
mod damaged;
mod downloads;
mod encrypt;
mod images;
mod isolation;
mod jit;
mod mediaconvert;
mod package;
mod per_title;
mod probe;
mod service;
mod subtitles;
mod tracks;
mod transcode;
mod transcode_options;
mod tus;
mod webhooks;
