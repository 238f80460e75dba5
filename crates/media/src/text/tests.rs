use super::*;

#[test]
fn webvtt_cues_are_read_with_settings_and_without_notes() {
    let file = "\u{feff}WEBVTT - a title\nKind: captions\n\nNOTE a comment\nover two lines\n\nSTYLE\n::cue { color: red }\n\n1\n00:00:01.000 --> 00:00:02.500 line:10%\n<i>Hello</i> &amp; welcome\nsecond line\n\n01:02.250 --> 01:03.000\nNo hours\n";
    let cues = parse(file.as_bytes(), TextFormat::WebVtt).unwrap();
    assert_eq!(
        cues,
        vec![
            Cue {
                start_ms: 1000,
                end_ms: 2500,
                settings: "line:10%".into(),
                text: "<i>Hello</i> &amp; welcome\nsecond line".into(),
            },
            Cue {
                start_ms: 62_250,
                end_ms: 63_000,
                settings: String::new(),
                text: "No hours".into(),
            },
        ]
    );
}

#[test]
fn subrip_becomes_webvtt_text() {
    let file = "1\r\n00:00:01,000 --> 00:00:02,000\r\n<i>Fish</i> & <font color=\"red\">chips</font>\r\n{\\an8}a < b\r\n\r\n2\r\n00:00:03,000 --> 00:00:04,000 X1:10 X2:20\r\n<B>loud</B>\r\n";
    let cues = parse(file.as_bytes(), TextFormat::SubRip).unwrap();
    assert_eq!(cues.len(), 2);
    assert_eq!(cues[0].text, "<i>Fish</i> &amp; chips\na &lt; b");
    assert_eq!((cues[1].start_ms, cues[1].end_ms), (3000, 4000));
    assert_eq!(cues[1].text, "<b>loud</b>");
}

#[test]
fn a_malformed_file_names_the_line() {
    let cases: [(&[u8], TextFormat, usize, &str); 7] = [
        (
            b"1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:03,000 -> 00:00:04,000\nbad\n",
            TextFormat::SubRip,
            6,
            "timing line",
        ),
        (
            b"1\n00:00:01,000 --> 00:00:0x,000\n",
            TextFormat::SubRip,
            2,
            "not a time",
        ),
        (
            b"WEBVTT\n\n00:00:02.000 --> 00:00:01.000\nbackwards\n",
            TextFormat::WebVtt,
            3,
            "ends before it starts",
        ),
        (b"hello\n", TextFormat::WebVtt, 1, "starts with \"WEBVTT\""),
        (
            b"WEBVTT\n\n00:61.000 --> 01:00.000\nx\n",
            TextFormat::WebVtt,
            3,
            "not a time",
        ),
        (b"WEBVTT\n\n", TextFormat::WebVtt, 1, "no cues"),
        (
            b"1\n00:00:01,000 --> 00:00:02,000\n\xff\xfe\n",
            TextFormat::SubRip,
            3,
            "not UTF-8",
        ),
    ];
    for (file, format, line, why) in cases {
        let err = parse(file, format).unwrap_err();
        let shown = String::from_utf8_lossy(file);
        assert_eq!(err.line, line, "{shown:?}: {err}");
        assert!(err.reason.contains(why), "{shown:?}: {err}");
    }
}

#[test]
fn sizes_are_bounded_before_reading() {
    let big = vec![b'a'; MAX_TEXT_BYTES + 1];
    let err = parse(&big, TextFormat::SubRip).unwrap_err();
    assert!(err.reason.contains("at most"), "{err}");
}

#[test]
fn a_segment_holds_the_cues_it_overlaps_with_the_timestamp_map() {
    let cues = parse(
        b"WEBVTT\n\n00:00.500 --> 00:01.500\na\n\n00:03.900 --> 00:04.100\nb\n\n00:05.000 --> 00:06.000\nc\n",
        TextFormat::WebVtt,
    )
    .unwrap();
    let first = write_segment(&cues, 0, 4000, Some(7200));
    assert_eq!(
        first,
        "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:7200,LOCAL:00:00:00.000\n\n00:00:00.500 --> 00:00:01.500\na\n\n00:00:03.900 --> 00:00:04.100\nb\n\n"
    );
    let second = write_segment(&cues, 4000, 8000, None);
    assert!(second.starts_with("WEBVTT\n\n00:00:03.900"), "{second}");
    assert!(second.contains("\nc\n"));
    // What is written reads back as the same cues.
    assert_eq!(
        parse(
            write_segment(&cues, 0, 10_000, None).as_bytes(),
            TextFormat::WebVtt
        )
        .unwrap(),
        cues
    );
}

#[test]
fn cues_past_the_end_are_dropped_and_cut() {
    let mut cues = parse(
        b"WEBVTT\n\n00:01.000 --> 00:03.000\na\n\n00:05.000 --> 00:06.000\nb\n",
        TextFormat::WebVtt,
    )
    .unwrap();
    assert_eq!(clip_to(&mut cues, 2000), 1);
    assert_eq!((cues[0].start_ms, cues[0].end_ms), (1000, 2000));
}

#[test]
fn formats_come_from_extensions() {
    assert_eq!(
        TextFormat::from_extension("a.SRT"),
        Some(TextFormat::SubRip)
    );
    assert_eq!(
        TextFormat::from_extension("a.vtt"),
        Some(TextFormat::WebVtt)
    );
    assert_eq!(TextFormat::from_extension("a.ass"), None);
}

#[test]
fn a_hostile_subrip_line_costs_time_in_proportion_to_its_length() {
    // Brackets that never close and wide characters, a megabyte on one line: each step
    // of the conversion looks at most a tag's length ahead.
    let mut file = String::from("1\n00:00:01,000 --> 00:00:02,000\n");
    for _ in 0..100_000 {
        file.push_str("{<中&");
    }
    file.push('\n');
    let cues = parse(file.as_bytes(), TextFormat::SubRip).unwrap();
    assert_eq!(
        cues[0].text.len(),
        100_000 * ("{&lt;中&amp;".len()),
        "every bracket is text"
    );
}

#[test]
fn a_webvtt_cue_right_after_the_header_is_kept() {
    let cues = parse(
        b"WEBVTT\n00:01.000 --> 00:02.000\nfirst\n",
        TextFormat::WebVtt,
    )
    .unwrap();
    assert_eq!(cues.len(), 1);
    assert_eq!(cues[0].text, "first");
}

#[test]
fn written_text_without_cues_is_an_empty_track() {
    assert_eq!(parse_written(b"WEBVTT\n\n").unwrap(), Vec::new());
    assert!(parse(b"WEBVTT\n\n", TextFormat::WebVtt).is_err());
    let big = vec![b'a'; MAX_WRITTEN_TEXT_BYTES + 1];
    assert!(parse_written(&big).is_err());
}
