//! What is written reads back: every format, plain, gzip or zstd, gives the
//! readers the same requests (times to the microsecond, or to the second in
//! an access log, which has no finer time), and a failing output is an
//! error, not a panic or a silently short file.

use std::io::{self, Write};
use std::path::PathBuf;

use ttlab_traffic::trace::{self, Columns, Kind, Packing, Record};

fn records() -> Vec<(i64, String, String)> {
    // Around the epoch and around now, a path needing quotes in CSV, one
    // thousand lines so that more than one formatting batch is written.
    let mut out = vec![
        (-1_500_000, "/before".to_owned(), "v-0".to_owned()),
        (0, "/a,b\"c".to_owned(), "v-1".to_owned()),
    ];
    for i in 0..1_000_i64 {
        out.push((
            1_764_496_800_000_000 + i * 123_457,
            format!("/products/{}", i % 37),
            format!("3f2c{i:04}-uid"),
        ));
    }
    out
}

fn path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ttlab-traffic-write-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn every_format_and_packing_reads_back() {
    let want = records();
    for (kind, ext) in [
        (Kind::AccessLog, "log"),
        (Kind::Csv, "csv"),
        (Kind::Tsv, "tsv"),
        (Kind::JsonLines, "jsonl"),
    ] {
        for pack in ["", ".gz", ".zst"] {
            let file = path(&format!("out.{ext}{pack}"));
            let packing = Packing::of_path(&file);
            let n = trace::write(
                std::fs::File::create(&file).unwrap(),
                kind,
                packing,
                want.iter().map(|(at_us, path, visitor)| Record {
                    at_us: *at_us,
                    path,
                    visitor,
                }),
            )
            .unwrap();
            assert_eq!(n, want.len() as u64, "{file:?}");
            let bytes = std::fs::read(&file).unwrap();
            match packing {
                Packing::Gzip => assert_eq!(&bytes[..2], [0x1f, 0x8b], "{file:?}"),
                Packing::Zstd => assert_eq!(&bytes[..4], [0x28, 0xb5, 0x2f, 0xfd], "{file:?}"),
                Packing::Plain => assert!(bytes.is_ascii(), "{file:?}"),
            }
            let read = trace::read(&file, &Kind::of_path(&file).with(Columns::default()))
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(read.bad_count, 0, "{file:?}: {:?}", read.bad);
            assert_eq!(read.requests.len(), want.len(), "{file:?}");
            for (got, (at_us, path, visitor)) in read.requests.iter().zip(&want) {
                let at = if kind == Kind::AccessLog {
                    at_us.div_euclid(1_000_000) * 1_000_000
                } else {
                    *at_us
                };
                let path = if kind == Kind::AccessLog {
                    // The access log keeps the escape of a quote as written.
                    path.replace('"', "\\\"")
                } else {
                    path.clone()
                };
                assert_eq!(got.at_us, at, "{file:?}");
                assert_eq!(got.path, path, "{file:?}");
                assert_eq!(got.visitor.as_deref(), Some(visitor.as_str()), "{file:?}");
            }
        }
    }
}

/// Accepts `left` bytes, then fails as a full disk does.
struct Full {
    left: usize,
}

impl Write for Full {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
        }
        let n = buf.len().min(self.left);
        self.left -= n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failing_output_is_an_error_for_every_packing() {
    let many: Vec<String> = (0..50_000).map(|i| format!("/p/{i}")).collect();
    for packing in [Packing::Plain, Packing::Gzip, Packing::Zstd] {
        let e = trace::write(
            Full { left: 10_000 },
            Kind::AccessLog,
            packing,
            many.iter().enumerate().map(|(i, p)| Record {
                at_us: i as i64 * 1_000,
                path: p,
                visitor: "v",
            }),
        )
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::StorageFull, "{packing:?}: {e}");
    }
}
