//! Snapshots of the main views drawn from fixed data to ratatui's
//! `TestBackend`, at the smallest supported terminal (80×24) and a large one
//! (160×48). A change in the drawing shows as a diff of the `.snap` files
//! under `tests/snapshots/`; review it with `cargo insta review` or accept
//! it with `INSTA_UPDATE=always`.

#![allow(missing_docs)]

mod fixture;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use ttlab_dashboard::DashState;
use ttlab_dashboard::plain;
use ttlab_dashboard::state::{Action, View};
use ttlab_dashboard::views::draw;
use ttlab_loadgen::live::{Frame, LayerCounts};

fn render(s: &DashState, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| draw(f, s)).unwrap();
    t
}

fn snap(view: View, help: bool, name: &str) {
    let mut s = fixture::state();
    s.view = view;
    s.help = help;
    for (w, h) in [(80, 24), (160, 48)] {
        let t = render(&s, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), t.backend());
    }
}

#[test]
fn overview() {
    snap(View::Overview, false, "overview");
}

#[test]
fn charts() {
    snap(View::Charts, false, "charts");
}

#[test]
fn compare() {
    snap(View::Compare, false, "compare");
}

#[test]
fn help() {
    snap(View::Overview, true, "help");
}

#[test]
fn wrong_variants_are_red_and_fresh_ones_are_not() {
    let mut s = fixture::state();
    // Architecture 0 (the shared CDN) served wrong variants.
    s.act(Action::Arch(0));
    let t = render(&s, 80, 24);
    let buf = t.backend().buffer();
    let (x, y) = find(&t, "wrong_variant").expect("wrong_variant on screen");
    assert_eq!(buf[(x, y)].fg, Color::Red);
    let (x, y) = find(&t, "fresh").expect("fresh on screen");
    assert_ne!(buf[(x, y)].fg, Color::Red);
    // The edge has none: not red.
    s.act(Action::Arch(1));
    let t = render(&s, 80, 24);
    let buf = t.backend().buffer();
    let row = (0..buf.area.height)
        .find(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, *y)].symbol())
                .collect::<String>()
                .contains("wrong_variant")
        })
        .unwrap();
    assert!((0..buf.area.width).all(|x| buf[(x, row)].fg != Color::Red));
}

#[test]
fn the_same_data_draws_the_same_screen() {
    // "Now" comes from the data: two draws of equal states are equal.
    let a = render(&fixture::state(), 100, 30);
    let b = render(&fixture::state(), 100, 30);
    assert_eq!(a.backend().buffer(), b.backend().buffer());
}

/// Where `text` starts on the screen, if it is there.
fn find(t: &Terminal<TestBackend>, text: &str) -> Option<(u16, u16)> {
    let buf = t.backend().buffer();
    (0..buf.area.height).find_map(|y| {
        let row: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
        row.find(text).map(|x| (row[..x].chars().count() as u16, y))
    })
}

#[test]
fn a_store_outage_shows_in_red_on_the_hit_chart_and_in_the_progress_line() {
    let mut s = fixture::state();
    let running = s.status.current.unwrap();
    s.act(Action::Arch(running));
    assert_eq!(find(&render(&s, 160, 48), "store down"), None);
    assert!(!plain::line(&s).contains("store down"));
    // A second in which Redis was down: the origin answered 40 requests
    // around the cache.
    let mut second = Frame::empty(running, s.selected().now_s());
    second.classes[0] = 40;
    second.origin.requests = 40;
    second.layer = Some(LayerCounts {
        bypass: 40,
        store_bypass: 40,
        ..LayerCounts::default()
    });
    s.apply([second]);
    let screen = render(&s, 160, 48);
    let at = find(&screen, "store down: 40 bypassed").expect("the outage on screen");
    assert_eq!(screen.backend().buffer()[at].fg, Color::Red);
    let line = plain::line(&s);
    assert!(line.contains(", store down: 40 bypassed"), "{line}");
}
