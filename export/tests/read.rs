//! The reader against exports laid out as the CLI writes them: folder and
//! zip, branch folder, chunked entries and assets, the older layouts, and
//! every kind of bad input naming its file (and line:column for JSON).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::json;
use ttlab_export::{Export, ExportError, FieldKind, TextStyle};
use ttlab_test_support::process::fresh_dir;

/// A small export: every field type, a global field (also as a block),
/// two locales with a fallback, entries in two chunks, an asset with its file.
fn files() -> Vec<(String, Vec<u8>)> {
    let schema = json!([
        {"uid": "page", "title": "Page", "schema": [
            {"uid": "title", "data_type": "text", "display_name": "Title", "mandatory": true, "unique": true},
            {"uid": "url", "data_type": "text", "display_name": "URL", "field_metadata": {"_default": true}},
            {"uid": "summary", "data_type": "text", "field_metadata": {"multiline": true}},
            {"uid": "notes", "data_type": "text", "field_metadata": {"markdown": true}},
            {"uid": "html", "data_type": "text", "field_metadata": {"allow_rich_text": true}},
            {"uid": "colour", "data_type": "text", "display_type": "dropdown", "enum": {"advanced": false, "choices": [{"value": "red"}]}},
            {"uid": "count", "data_type": "number"},
            {"uid": "on", "data_type": "boolean"},
            {"uid": "day", "data_type": "isodate"},
            {"uid": "image", "data_type": "file"},
            {"uid": "cta", "data_type": "link"},
            {"uid": "doc", "data_type": "json", "field_metadata": {"allow_json_rte": true}},
            {"uid": "widget", "data_type": "json", "extension_uid": "ext1"},
            {"uid": "box", "data_type": "group", "multiple": true, "schema": [
                {"uid": "label", "data_type": "text"},
                {"uid": "hologram", "data_type": "hologram"}
            ]},
            {"uid": "sections", "data_type": "blocks", "blocks": [
                {"uid": "hero", "title": "Hero", "schema": [{"uid": "heading", "data_type": "text"}]},
                {"uid": "meta", "title": "Meta", "reference_to": "seo"}
            ]},
            {"uid": "authors", "data_type": "reference", "reference_to": ["author"], "field_metadata": {"ref_multiple": true}},
            {"uid": "seo", "data_type": "global_field", "reference_to": "seo"}
        ]},
        {"uid": "author", "title": "Author", "schema": [
            {"uid": "title", "data_type": "text"}
        ]}
    ]);
    let globals = json!([{"uid": "seo", "title": "SEO", "schema": [
        {"uid": "meta_title", "data_type": "text"}
    ]}]);
    let page = |uid: &str, locale: &str, v: u64| {
        json!({"uid": uid, "title": format!("{uid} {locale}"), "url": format!("/{uid}"), "locale": locale, "_version": v,
               "image": "asset1", "authors": [{"uid": "au1", "_content_type_uid": "author"}]})
    };
    let mut out: Vec<(String, Vec<u8>)> = vec![
        ("content_types/schema.json".into(), schema.to_string().into()),
        ("global_fields/globalfields.json".into(), globals.to_string().into()),
        ("locales/master-locale.json".into(), json!({"l1": {"uid": "l1", "code": "en-us", "name": "English"}}).to_string().into()),
        ("locales/locales.json".into(), json!({"l2": {"uid": "l2", "code": "fr-fr", "name": "French", "fallback_locale": "en-us"}}).to_string().into()),
        ("environments/environments.json".into(), json!({"env1": {"uid": "env1", "name": "production"}}).to_string().into()),
        ("entries/page/en-us/index.json".into(), json!({"1": "a-entries.json", "2": "b-entries.json"}).to_string().into()),
        ("entries/page/en-us/a-entries.json".into(), json!({"p1": page("p1", "en-us", 3)}).to_string().into()),
        ("entries/page/en-us/b-entries.json".into(), json!({"p2": page("p2", "en-us", 1)}).to_string().into()),
        ("entries/page/fr-fr/index.json".into(), json!({"1": "c-entries.json"}).to_string().into()),
        ("entries/page/fr-fr/c-entries.json".into(), json!({"p1": page("p1", "fr-fr", 2)}).to_string().into()),
        ("entries/author/en-us/index.json".into(), json!({"1": "d-entries.json"}).to_string().into()),
        ("entries/author/en-us/d-entries.json".into(), json!({"au1": {"uid": "au1", "title": "Ada"}}).to_string().into()),
        ("assets/assets.json".into(), json!({"1": "e-assets.json"}).to_string().into()),
        ("assets/e-assets.json".into(), json!({"asset1": {"uid": "asset1", "filename": "dot.svg", "content_type": "image/svg+xml", "file_size": "5"}}).to_string().into()),
        ("assets/metadata.json".into(), b"{}".to_vec()),
        ("assets/files/asset1/dot.svg".into(), b"<svg/>".to_vec()),
    ];
    // Pretty-print one chunk, as a person editing an export would, so a
    // JSON error has a line worth naming.
    out[6].1 = serde_json::to_vec_pretty(&json!({"p1": page("p1", "en-us", 3)})).unwrap();
    out
}

fn write_dir(root: &Path, files: &[(String, Vec<u8>)]) {
    for (rel, bytes) in files {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
}

fn write_zip(path: &Path, prefix: &str, files: &[(String, Vec<u8>)]) {
    let f = std::fs::File::create(path).unwrap();
    let mut z = zip::ZipWriter::new(f);
    let opts = zip::write::SimpleFileOptions::default();
    for (rel, bytes) in files {
        z.start_file(format!("{prefix}{rel}"), opts).unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap();
}

fn check_whole(e: &Export) {
    assert_eq!(e.master_locale.as_deref(), Some("en-us"));
    assert_eq!(e.locales[0].code, "en-us", "the master first");
    assert_eq!(
        e.locale("fr-fr").unwrap().fallback.as_deref(),
        Some("en-us")
    );
    assert_eq!(e.environments[0].name, "production");
    assert_eq!(e.content_types.len(), 2);
    // Both chunks read, in index order, and the other locale apart.
    let en: Vec<&str> = e
        .entries
        .iter()
        .filter(|x| x.content_type == "page" && x.locale == "en-us")
        .map(|x| x.uid.as_str())
        .collect();
    assert_eq!(en, ["p1", "p2"]);
    assert_eq!(e.entry("page", "p1", "fr-fr").unwrap().version(), 2);
    assert_eq!(e.entry("page", "p1", "en-us").unwrap().version(), 3);
    assert!(e.entry("page", "p2", "fr-fr").is_none());
    assert_eq!(e.content_type_of("au1"), Some("author"));
    let asset = e.asset("asset1").unwrap();
    assert_eq!(asset.filename(), "dot.svg");
    assert_eq!(&*asset.file.as_ref().unwrap().bytes().unwrap(), b"<svg/>");
}

#[test]
fn a_folder_with_a_branch_folder_is_read_whole() {
    let dir = fresh_dir("export-branch");
    write_dir(&dir.join("main"), &files());
    let e = Export::open(&dir).unwrap();
    check_whole(&e);
}

#[test]
fn a_zip_with_a_top_folder_reads_the_same() {
    let dir = fresh_dir("export-zip");
    let zip = dir.join("site.zip");
    write_zip(&zip, "site-export/main/", &files());
    let e = Export::open(&zip).unwrap();
    check_whole(&e);
}

#[test]
fn every_field_type_has_its_kind() {
    let dir = fresh_dir("export-kinds");
    write_dir(&dir, &files());
    let e = Export::open(&dir).unwrap();
    let page = e.content_type("page").unwrap();
    let kind = |uid: &str| &page.schema.iter().find(|f| f.uid == uid).unwrap().kind;
    assert_eq!(kind("title"), &FieldKind::Text(TextStyle::Plain));
    assert_eq!(kind("url"), &FieldKind::Url);
    assert_eq!(kind("summary"), &FieldKind::Text(TextStyle::Multiline));
    assert_eq!(kind("notes"), &FieldKind::Text(TextStyle::Markdown));
    assert_eq!(kind("html"), &FieldKind::Text(TextStyle::Html));
    assert_eq!(kind("colour"), &FieldKind::Select);
    assert_eq!(kind("count"), &FieldKind::Number);
    assert_eq!(kind("on"), &FieldKind::Boolean);
    assert_eq!(kind("day"), &FieldKind::Date);
    assert_eq!(kind("image"), &FieldKind::File);
    assert_eq!(kind("cta"), &FieldKind::Link);
    assert_eq!(kind("doc"), &FieldKind::JsonRte);
    assert_eq!(kind("widget"), &FieldKind::Custom);
    assert_eq!(
        kind("authors"),
        &FieldKind::Reference(vec!["author".into()])
    );
    assert!(
        page.schema
            .iter()
            .find(|f| f.uid == "authors")
            .unwrap()
            .multiple
    );
    let FieldKind::Global { uid, schema } = kind("seo") else {
        panic!("seo: {:?}", kind("seo"))
    };
    assert_eq!(
        (uid.as_str(), schema[0].uid.as_str()),
        ("seo", "meta_title")
    );
    let FieldKind::Blocks(blocks) = kind("sections") else {
        panic!()
    };
    assert_eq!(
        blocks[1].schema[0].uid, "meta_title",
        "a block that is a global field has its fields"
    );
    let FieldKind::Group(group) = kind("box") else {
        panic!()
    };
    assert!(
        page.schema
            .iter()
            .find(|f| f.uid == "box")
            .unwrap()
            .multiple
    );
    assert_eq!(group[0].kind, FieldKind::Text(TextStyle::Plain));
    // Text a page shows carries tokens; addresses and choices do not.
    let carries: Vec<&str> = page
        .schema
        .iter()
        .filter(|f| f.carries_token())
        .map(|f| f.uid.as_str())
        .collect();
    assert_eq!(carries, ["title", "summary", "notes", "html", "doc"]);
    // The unknown type is listed with its path, not dropped.
    assert_eq!(e.unsupported.len(), 1);
    assert_eq!(
        (
            e.unsupported[0].content_type.as_str(),
            e.unsupported[0].path.as_str(),
            e.unsupported[0].data_type.as_str()
        ),
        ("page", "box.hologram", "hologram")
    );
}

#[test]
fn the_older_layouts_are_read_too() {
    let dir = fresh_dir("export-legacy");
    let mut f: Vec<(String, Vec<u8>)> = files()
        .into_iter()
        .filter(|(r, _)| !r.starts_with("entries/page/") && !r.starts_with("assets/"))
        .collect();
    f.push((
        "entries/page/en-us.json".into(),
        json!({"p9": {"uid": "p9", "title": "old"}})
            .to_string()
            .into(),
    ));
    f.push((
        "assets/assets.json".into(),
        json!({"asset1": {"uid": "asset1", "filename": "x.txt"}})
            .to_string()
            .into(),
    ));
    f.push(("assets/asset1/x.txt".into(), b"hi".to_vec()));
    write_dir(&dir, &f);
    let e = Export::open(&dir).unwrap();
    assert_eq!(e.entry("page", "p9", "en-us").unwrap().doc["title"], "old");
    assert_eq!(
        &*e.asset("asset1")
            .unwrap()
            .file
            .as_ref()
            .unwrap()
            .bytes()
            .unwrap(),
        b"hi"
    );
}

fn error_of(files: &[(String, Vec<u8>)], name: &str) -> (PathBuf, String) {
    let dir = fresh_dir(name);
    write_dir(&dir, files);
    let err = Export::open(&dir).unwrap_err();
    (dir, err.to_string())
}

#[test]
fn malformed_json_names_the_file_line_and_column() {
    let mut f = files();
    // Line 3 of the pretty chunk gets a stray word.
    let text = String::from_utf8(f[6].1.clone()).unwrap();
    let broken: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 2 {
                format!("{l} oops")
            } else {
                l.to_owned()
            }
        })
        .collect();
    f[6].1 = broken.join("\n").into_bytes();
    let (dir, msg) = error_of(&f, "export-badjson");
    let want = format!("{}/entries/page/en-us/a-entries.json:3:", dir.display());
    assert!(
        msg.starts_with(&want),
        "{msg}\nwanted it to start with {want}"
    );
    let dir2 = fresh_dir("export-badjson-kind");
    write_dir(&dir2, &files());
    std::fs::write(
        dir2.join("content_types/schema.json"),
        "[\n  {\"uid\": \"page\",,}\n]",
    )
    .unwrap();
    let err = Export::open(&dir2).unwrap_err();
    assert!(matches!(err, ExportError::Json { line: 2, .. }), "{err}");
}

#[test]
fn a_missing_export_or_file_is_named() {
    let msg = Export::open(Path::new("/nonexistent/site-export"))
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with("/nonexistent/site-export: no such folder or zip file"),
        "{msg}"
    );
    let f: Vec<_> = files()
        .into_iter()
        .filter(|(r, _)| r != "content_types/schema.json")
        .collect();
    let dir = fresh_dir("export-noschema");
    write_dir(&dir, &f);
    std::fs::create_dir_all(dir.join("content_types")).unwrap();
    let msg = Export::open(&dir).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!(
            "{}/content_types/schema.json: missing",
            dir.display()
        )),
        "{msg}"
    );
    let f: Vec<_> = files()
        .into_iter()
        .filter(|(r, _)| r != "entries/page/en-us/b-entries.json")
        .collect();
    let (dir, msg) = error_of(&f, "export-nochunk");
    assert!(
        msg.starts_with(&format!(
            "{}/entries/page/en-us/b-entries.json: missing: a chunk file",
            dir.display()
        )),
        "{msg}"
    );
    let (dir, msg) = error_of(&[("readme.txt".into(), b"x".to_vec())], "export-notexport");
    assert!(
        msg.contains(&format!("{}/content_types/schema.json", dir.display()))
            && msg.contains("not a stack export"),
        "{msg}"
    );
}

#[test]
fn wrong_shapes_and_bad_zips_are_named() {
    let mut f = files();
    f[7].1 = json!({"p2": "not an entry"}).to_string().into();
    let (dir, msg) = error_of(&f, "export-shape");
    assert_eq!(
        msg,
        format!(
            "{}/entries/page/en-us/b-entries.json: an entry must be an object",
            dir.display()
        )
    );
    let dir = fresh_dir("export-notzip");
    std::fs::write(dir.join("x.zip"), b"not a zip").unwrap();
    let msg = Export::open(&dir.join("x.zip")).unwrap_err().to_string();
    assert!(
        msg.contains("x.zip: not a folder and not a zip archive"),
        "{msg}"
    );
    let dir = fresh_dir("export-twobranches");
    write_dir(&dir.join("main"), &files());
    write_dir(&dir.join("dev"), &files());
    let msg = Export::open(&dir).unwrap_err().to_string();
    assert!(msg.contains("several branch folders (dev, main)"), "{msg}");
}
