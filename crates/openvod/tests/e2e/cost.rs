//! `openvod cost encode`: the seed's worked example from the command line, a template's
//! ladder at its true tiers, and a user's price book; `openvod transcode --estimate`: a
//! job measured on excerpts of its source and priced both ways before it runs.

use serde_json::Value;

use crate::common::*;

fn json(args: &[&str]) -> Value {
    let r = openvod(args);
    assert_ok(&r, "openvod cost");
    serde_json::from_slice(&r.stdout).unwrap()
}

#[test]
fn the_seeds_movie_and_the_default_ladder_are_priced_by_tier() {
    let mut args = vec!["cost", "encode", "--minutes", "90", "--json"];
    for r in [
        "h264:1080p",
        "h264:1080p",
        "h264:720p",
        "h264:720p",
        "hevc:1080p",
        "hevc:720p",
    ] {
        args.extend(["--rung", r]);
    }
    let seed = json(&args);
    let near = |v: &Value, usd: f64| (v.as_f64().unwrap() - usd).abs() < 1e-9;
    assert!(near(&seed["usd"], 10.8), "{seed}");
    assert_eq!(seed["by_tier"][0][0], "basic");
    assert!(near(&seed["by_tier"][0][1], 5.4), "{seed}");
    assert_eq!(seed["by_tier"][1][0], "professional");
    assert!(near(&seed["by_tier"][1][1], 5.4), "{seed}");
    // The text form says each rung's tier and why, and the total.
    let text = openvod(&[
        "cost",
        "encode",
        "--minutes",
        "90",
        "--rung",
        "hevc:1080p",
        "--rung",
        "h264:1080p@60",
    ]);
    assert_ok(&text, "openvod cost encode");
    let out = String::from_utf8_lossy(&text.stdout);
    assert!(out.contains("HEVC needs the Professional tier"), "{out}");
    assert!(out.contains("over 30 fps"), "{out}");
    assert!(out.contains("total                $5.40"), "{out}");

    // The default template: two HD rungs at Basic HD, two below 720p at Basic SD.
    let default = json(&[
        "cost",
        "encode",
        "--minutes",
        "90",
        "--template",
        "default",
        "--json",
    ]);
    let defs: Vec<&str> = default["rungs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["definition"].as_str().unwrap())
        .collect();
    assert_eq!(defs, ["hd", "hd", "sd", "sd"]);
    assert!(
        (default["usd"].as_f64().unwrap() - 4.05).abs() < 1e-9,
        "{default}"
    );
}

#[test]
fn a_users_price_book_replaces_the_built_in_one_and_bad_ones_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let built_in = openvod(&["cost", "prices"]);
    assert_ok(&built_in, "openvod cost prices");
    let text = String::from_utf8(built_in.stdout).unwrap();
    // A negotiated rate: Basic HD at a third off.
    let mine = dir.path().join("mine.toml");
    std::fs::write(&mine, text.replace("usd = 0.015, per", "usd = 0.01, per")).unwrap();
    let e = json(&[
        "cost",
        "encode",
        "--minutes",
        "60",
        "--rung",
        "h264:1080p",
        "--prices",
        mine.to_str().unwrap(),
        "--json",
    ]);
    assert!((e["usd"].as_f64().unwrap() - 0.6).abs() < 1e-9, "{e}");
    for (name, book, says) in [
        (
            "negative.toml",
            text.replace("usd = 0.09,", "usd = -0.09,"),
            "mediaconvert.av1_uhd",
        ),
        (
            "missing.toml",
            text.lines()
                .filter(|l| !l.starts_with("basic_sd"))
                .collect::<Vec<_>>()
                .join("\n"),
            "basic_sd",
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, book).unwrap();
        let r = openvod(&[
            "cost",
            "encode",
            "--minutes",
            "1",
            "--rung",
            "h264:720p",
            "--prices",
            path.to_str().unwrap(),
        ]);
        assert!(!r.status.success(), "{name}");
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(err.contains(says) && err.contains(name), "{name}: {err}");
    }
    for (args, says) in [
        (vec!["--minutes", "90"], "nothing to price"),
        (vec!["--minutes=-3", "--rung", "h264:720p"], "-3 minutes"),
        (vec!["--minutes", "9", "--rung", "vp8:720p"], "vp8"),
    ] {
        let mut a = vec!["cost", "encode"];
        a.extend(args);
        let r = openvod(&a);
        assert!(!r.status.success());
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(err.contains(says), "{a:?}: {err}");
    }
}

#[test]
fn a_transcode_is_measured_and_priced_before_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let template = fast_template(dir.path());
    let template = template.to_str().unwrap();
    // Longer than the long excerpt: measured on a short and a long one.
    let long = make_source(dir.path(), "long.mp4", "640x360", 25, 14, true, &[]);
    let out = dir.path().join("out");
    let e = json(&[
        "transcode",
        long.to_str().unwrap(),
        "--template",
        template,
        "--estimate",
        "--vcpu-hour-usd",
        "0.5",
        "--json",
    ]);
    assert!(!out.exists(), "an estimate writes no output");
    let est = &e["estimate"];
    assert!(
        (est["duration"].as_f64().unwrap() - 14.0).abs() < 0.1,
        "{e}"
    );
    let measured = est["measured"].as_array().unwrap();
    assert_eq!(measured.len(), 2, "{e}");
    assert_eq!(measured[0]["seconds"], 2.5);
    assert_eq!(measured[1]["seconds"], 10.0);
    assert!(
        (measured[1]["start"].as_f64().unwrap() - 2.0).abs() < 0.1,
        "{e}"
    );
    assert!(
        measured
            .iter()
            .all(|m| m["cpu_seconds"].as_f64().unwrap() > 0.0),
        "{e}"
    );
    // The whole title costs more than the long excerpt and the estimate is its share.
    let cpu = est["cpu_seconds"].as_f64().unwrap();
    assert!(cpu > measured[1]["cpu_seconds"].as_f64().unwrap(), "{e}");
    let rungs = est["rungs"].as_array().unwrap();
    let planned = est["plan"]["rungs"].as_array().unwrap();
    assert_eq!(rungs.len(), planned.len(), "{e}");
    assert!(!rungs.is_empty());
    let shares: f64 = rungs
        .iter()
        .map(|r| r["cpu_seconds"].as_f64().unwrap())
        .sum();
    assert!((shares - cpu).abs() < 0.01 * cpu, "{e}");
    assert!(
        (e["openvod_usd"].as_f64().unwrap() - cpu / 3600.0 * 0.5).abs() < 1e-9,
        "{e}"
    );
    // MediaConvert: every rung of a 360p source is SD, at the Basic tier's SD price.
    let mc = &e["mediaconvert"];
    assert_eq!(mc["rungs"].as_array().unwrap().len(), planned.len(), "{e}");
    assert!(
        mc["rungs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["tier"] == "basic" && r["definition"] == "sd"),
        "{e}"
    );
    let minutes = est["duration"].as_f64().unwrap() / 60.0;
    let expected = minutes * 0.0075 * planned.len() as f64;
    assert!((mc["usd"].as_f64().unwrap() - expected).abs() < 1e-9, "{e}");

    // No longer than the long excerpt: encoded whole, once.
    let short = make_source(dir.path(), "short.mp4", "320x180", 25, 4, true, &[]);
    let e = json(&[
        "transcode",
        short.to_str().unwrap(),
        "--template",
        template,
        "--estimate",
        "--json",
    ]);
    let measured = e["estimate"]["measured"].as_array().unwrap();
    assert_eq!(measured.len(), 1, "{e}");
    assert_eq!(measured[0]["start"], 0.0);
    assert_eq!(e["estimate"]["cpu_seconds"], measured[0]["cpu_seconds"]);

    // A rate that cannot be is named.
    let r = openvod(&[
        "transcode",
        short.to_str().unwrap(),
        "--estimate",
        "--vcpu-hour-usd=-1",
    ]);
    assert!(!r.status.success());
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("vcpu_hour_usd"),
        "{r:?}"
    );
}

#[test]
fn the_seeds_platform_month_comes_out_line_by_line() {
    let bill = json(&["cost", "platform", "--json"]);
    let scenarios = bill["scenarios"].as_array().unwrap();
    let names: Vec<&str> = scenarios
        .iter()
        .map(|s| s["scenario"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["fixed-ladder", "per-title", "per-title-hevc"]);
    // The seed: $0.5-1.2M a month for 2 million daily viewers, and every line adds up.
    for s in scenarios {
        let usd = s["usd"].as_f64().unwrap();
        assert!((500_000.0..=1_200_000.0).contains(&usd), "{s}");
        let lines: f64 = s["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["usd"].as_f64().unwrap())
            .sum();
        assert!((lines - usd).abs() < 1e-6 * usd);
    }
    let services: Vec<&str> = scenarios[0]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["service"].as_str().unwrap())
        .collect();
    for service in [
        "CloudFront",
        "MediaPackage",
        "MediaConvert",
        "S3",
        "DynamoDB",
        "DRM (SPEKE)",
    ] {
        assert!(services.contains(&service), "{services:?}");
    }
    assert_eq!(bill["assumptions"]["daily_viewers"], 2_000_000.0);
    // Twice the viewing, about twice the delivery: the assumptions drive the bill.
    let double = json(&[
        "cost",
        "platform",
        "--minutes-per-day",
        "60",
        "--no-drm",
        "--json",
    ]);
    let gb = |b: &Value| b["scenarios"][0]["delivered_gb"].as_f64().unwrap();
    assert!((gb(&double) / gb(&bill) - 2.0).abs() < 1e-9);
    assert!(double["scenarios"][0]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["service"] != "DRM (SPEKE)"));

    // The text form: each scenario's lines and total.
    let text = openvod(&[
        "cost",
        "platform",
        "--rendition",
        "1080p",
        "--rendition",
        "540p",
    ]);
    assert_ok(&text, "openvod cost platform");
    let out = String::from_utf8_lossy(&text.stdout);
    assert!(out.contains("1080p + 540p"), "{out}");
    assert!(
        out.contains("per-title ladders: 57 % of the fixed ladder's bytes"),
        "{out}"
    );
    assert_eq!(out.matches("  total ").count(), 3, "{out}");

    for (args, says) in [
        (
            vec!["--rendition", "4k"],
            "rendition \"4k\" is not in template \"default\"",
        ),
        (vec!["--cache-hit", "1.5"], "cache-hit is 1.5"),
        (vec!["--dau=-5"], "dau is -5"),
    ] {
        let mut a = vec!["cost", "platform"];
        a.extend(args);
        let r = openvod(&a);
        assert!(!r.status.success(), "{a:?}");
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(err.contains(says), "{a:?}: {err}");
    }
}
