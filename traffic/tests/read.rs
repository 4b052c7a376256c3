//! Traces as users have them: every format, plain or packed, with bad lines
//! counted by number and never fatal unless every line is bad.

use std::io::Write as _;
use std::path::PathBuf;

use ttlab_traffic::trace::{self, Columns, Format, TimeUnit, TraceError};

const LOG: &str = r#"10.0.0.1 - - [30/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 512 "-" "curl/8"
10.0.0.2 - - [30/Nov/2026:10:00:01 +0000] "GET /products/1 HTTP/1.1" 200 2048
this line is not a request
10.0.0.1 - - [30/Nov/2026:10:00:03 +0000] "GET /products/2 HTTP/1.1" 304 - "-" "curl/8"
"#;

fn temp(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ttlab-traffic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn gzip(text: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

fn zstd(text: &str) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(text.as_bytes(), ruzstd::encoding::CompressionLevel::Fastest)
}

#[test]
fn an_access_log_plain_gzip_or_zstd_reads_the_same() {
    let plain = trace::read(&temp("a.log", LOG.as_bytes()), &Format::AccessLog).unwrap();
    assert_eq!(plain.requests.len(), 3);
    assert_eq!(plain.bad_count, 1);
    assert_eq!(plain.bad[0].line, 3, "the bad line's number");
    assert!(
        plain.bad[0].message.contains("no [time]"),
        "{:?}",
        plain.bad
    );
    let r = &plain.requests[2];
    assert_eq!(r.path, "/products/2");
    assert_eq!(r.visitor.as_deref(), Some("10.0.0.1 curl/8"));
    assert_eq!(r.at_us - plain.requests[0].at_us, 3_000_000);
    // Packed files are told by their bytes, whatever they are named.
    for (name, bytes) in [("b.log", gzip(LOG)), ("c.log", zstd(LOG))] {
        let t = trace::read(&temp(name, &bytes), &Format::AccessLog).unwrap();
        assert_eq!(t.requests, plain.requests, "{name}");
        assert_eq!(t.bad, plain.bad, "{name}");
    }
}

#[test]
fn csv_tsv_and_json_lines_by_named_columns() {
    let columns = Columns {
        time: "ts".into(),
        time_unit: TimeUnit::Millis,
        path: "object".into(),
        visitor: Some("client".into()),
        size: Some("bytes".into()),
    };
    let csv = "client,ts,object,bytes\nu1,1000,/a,10\nu2,not-a-time,/b,20\nu1,2500,\"/c,d\",30\n";
    let t = trace::read(
        &temp("t.csv", csv.as_bytes()),
        &Format::Delimited {
            delimiter: b',',
            columns: columns.clone(),
        },
    )
    .unwrap();
    assert_eq!(t.requests.len(), 2);
    assert_eq!(t.requests[1].path, "/c,d");
    assert_eq!(t.requests[1].at_us, 2_500_000);
    assert_eq!(t.requests[1].size, Some(30));
    assert_eq!((t.bad_count, t.bad[0].line), (1, 3), "{:?}", t.bad);

    let tsv = csv.replace(',', "\t").replace("\"/c\td\"", "/c");
    let t = trace::read(
        &temp("t.tsv", tsv.as_bytes()),
        &Format::Delimited {
            delimiter: b'\t',
            columns: columns.clone(),
        },
    )
    .unwrap();
    assert_eq!(t.requests.len(), 2);

    let jsonl = "{\"client\":\"u1\",\"ts\":1000,\"object\":\"/a\",\"bytes\":10}\n\n{\"client\":\"u1\",\"ts\":1500}\n{broken\n";
    let t = trace::read(
        &temp("t.jsonl", jsonl.as_bytes()),
        &Format::JsonLines(columns),
    )
    .unwrap();
    assert_eq!(t.requests.len(), 1);
    let lines: Vec<u64> = t.bad.iter().map(|b| b.line).collect();
    assert_eq!(lines, [3, 4]);
    assert!(
        t.bad[0].message.contains("no \"object\" key"),
        "{:?}",
        t.bad
    );
}

#[test]
fn only_a_trace_with_no_good_line_is_an_error() {
    let path = temp("bad.log", b"nothing\nat all\n");
    let e = trace::read(&path, &Format::AccessLog).unwrap_err();
    assert!(matches!(e, TraceError::AllBad { bad: 2, .. }), "{e}");
    let shown = e.to_string();
    assert!(
        shown.contains("bad.log: none of its 2 lines") && shown.contains("line 1:"),
        "{shown}"
    );

    let e = trace::read(
        &temp("cols.csv", b"when,where\n1,/a\n"),
        &Format::Delimited {
            delimiter: b',',
            columns: Columns::default(),
        },
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("cols.csv:1: no column \"time\" in the header (it has \"when\", \"where\")"),
        "{e}"
    );

    let e = trace::read(&temp("empty.log", b""), &Format::AccessLog).unwrap_err();
    assert!(matches!(e, TraceError::Empty { .. }), "{e}");
    let e = trace::read(
        &temp("none", b"").with_extension("missing"),
        &Format::AccessLog,
    )
    .unwrap_err();
    assert!(matches!(e, TraceError::Read { .. }), "{e}");
}
