//! Every screen and key of the view drawn on ratatui's test backend, at several sizes.

use apilens_top::{
    App, ClientRow, Effect, EventRow, FindingLine, FlowRow, Frame, LevelRow, Overlay, PanelRow,
    PanelTable, RequestRow, Screen, SectionLine, Theme, draw_to_buffer, draw_to_text,
};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Color;
use std::time::{Duration, Instant};

const PLAIN: Theme = Theme { colour: false };
const COLOUR: Theme = Theme { colour: true };

/// The sizes every screen must fit: the smallest terminal supported, common ones and a wide one.
const SIZES: [(u16, u16); 4] = [(80, 24), (100, 30), (160, 50), (250, 70)];

/// A frame shaped like the chatty-daemonset scenario's: a DaemonSet's LISTs fill
/// workload-low on both replicas, and the doctor names it.
fn frame() -> Frame {
    let culprit = ClientRow {
        user: "system:serviceaccount:logging:log-agent".into(),
        user_agent: "log-agent".into(),
        req_per_s: 41.5,
        seat_s_per_s: 12.3,
        priority_level: "workload-low".into(),
        level_share_pct: 87.0,
        rejected_per_s: 2.4,
        verb_resource: "list pods".into(),
        source_ips: 200,
        severity: "CRITICAL".into(),
        finding: "log-agent LISTs pods cluster-wide from 200 nodes: 87% of workload-low".into(),
        flow_schema: "service-accounts".into(),
        evidence: vec!["12.3 seats busy on average".into()],
        fix_yaml: "apiVersion: flowcontrol.apiserver.k8s.io/v1\nkind: PriorityLevelConfiguration\nmetadata:\n  name: log-agent\n".into(),
        advice: vec!["page the LIST with limit=500".into()],
        requests: vec![
            RequestRow {
                call: "list pods".into(),
                count: 4760,
                per_s: 15.9,
            },
            RequestRow {
                call: "watch configmaps".into(),
                count: 12,
                per_s: 0.04,
            },
        ],
        // Newest first: 2026-01-01T01:00:00.250Z, then half a second earlier.
        events: vec![
            EventRow {
                time_us: 1_767_229_200_250_000,
                verb: "list".into(),
                uri: "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-17".into(),
                code: Some(200),
                latency_ms: Some(4200.0),
                user_agent: "log-agent/2.1 (linux/amd64)".into(),
            },
            EventRow {
                time_us: 1_767_229_199_750_000,
                verb: "list".into(),
                uri: "/api/v1/pods".into(),
                code: Some(429),
                latency_ms: Some(1.5),
                user_agent: "log-agent/2.1 (linux/amd64)".into(),
            },
        ],
    };
    let victim = ClientRow {
        user: "system:serviceaccount:kube-system:replicaset-controller".into(),
        user_agent: "kube-controller-manager".into(),
        req_per_s: 3.0,
        seat_s_per_s: 0.2,
        priority_level: "workload-high".into(),
        level_share_pct: 20.0,
        ..ClientRow::default()
    };
    let level = |level: &str, instance: &str, used: f64| LevelRow {
        utilisation_pct: Some(used),
        utilisation_peak_pct: Some(used + 5.0),
        seats_in_use: Some((used * 0.56).round()),
        seats_limit: Some(56.0),
        seats_borrowed: Some(-189.0),
        seats_lower: Some(24.0),
        seats_upper: Some(649.0),
        wait_p99_s: Some(1.5),
        rejected_per_s: Some(2.4),
        dispatched_per_s: Some(50.0),
        ..LevelRow::new(level.into(), instance.into())
    };
    Frame {
        source: "simulator chatty-daemonset (SIMULATED)".into(),
        end_ms: 1_767_229_200_000,
        window_s: 300,
        level: "CRITICAL".into(),
        overall: "CRITICAL: APF workload-low saturated → LIST pods queue → 429s".into(),
        sections: vec![
            SectionLine {
                title: "Priority and Fairness".into(),
                level: "CRITICAL".into(),
                verdict: "workload-low at 100% of its seats on apiserver-0".into(),
                figure: Some(100.0),
                trend: vec![40.0, 70.0, 90.0],
            },
            SectionLine {
                title: "Watches".into(),
                level: "OK".into(),
                verdict: "120 WATCHes per server".into(),
                figure: Some(120.0),
                trend: Vec::new(),
            },
        ],
        levels: vec![
            level("workload-low", "apiserver-0.sim:6443", 100.0),
            level("workload-low", "apiserver-1.sim:6443", 92.0),
            level("global-default", "apiserver-0.sim:6443", 10.0),
        ],
        flows: vec![FlowRow {
            flow_schema: "service-accounts".into(),
            priority_level: "workload-low".into(),
            seats: Some(24.0),
        }],
        clients: vec![culprit.clone(), victim],
        culprit: Some(culprit),
        calls: vec![PanelTable {
            id: "slowest-calls".into(),
            title: "Slowest calls (LIST included)".into(),
            level: "WARNING".into(),
            headline: String::new(),
            rows: vec![PanelRow {
                name: "LIST pods cluster".into(),
                now: "4.2 s".into(),
                peak: "p50 1.1 s".into(),
            }],
            errors: vec![],
        }],
        watches: vec![],
        etcd: vec![],
        findings: vec![],
        audit_log: true,
        notes: vec![],
        errors: vec![],
        clients_end_ms: Some(1_767_229_200_000),
    }
}

fn app() -> App {
    let mut app = App::new(Duration::from_secs(2));
    app.set_frame(frame(), Instant::now());
    app
}

fn key(app: &mut App, code: KeyCode) -> Effect {
    app.handle_key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn screen_text(app: &App, (w, h): (u16, u16)) -> String {
    draw_to_text(app, PLAIN, w, h)
}

#[test]
fn every_screen_fits_every_size_with_header_and_key_hints() {
    for size in SIZES {
        for screen in Screen::ALL {
            let mut app = app();
            app.screen = screen;
            let text = screen_text(&app, size);
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), usize::from(size.1), "{screen:?} at {size:?}");
            assert!(
                lines[0].contains(screen.title()),
                "{screen:?} at {size:?}: header\n{text}"
            );
            assert!(
                lines.last().unwrap().contains("q:quit"),
                "{screen:?} at {size:?}: key hints\n{text}"
            );
        }
    }
}

#[test]
fn the_culprit_is_the_first_client_at_80x24() {
    let mut app = app();
    typed(&mut app, ":clients");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, Screen::Clients);
    let text = screen_text(&app, (80, 24));
    let first = text
        .lines()
        .find(|l| l.starts_with("CRIT "))
        .unwrap_or_else(|| panic!("no CRIT row\n{text}"));
    assert!(first.contains("sa:logging:log-agent"), "{text}");
    assert!(first.contains("workload-low"), "{text}");
    // The culprit is named above the table on every screen but the overview.
    assert!(
        text.lines().nth(1).unwrap().contains("culprit CRITICAL"),
        "{text}"
    );
}

#[test]
fn a_tiny_terminal_draws_without_panicking() {
    for (w, h) in [(1, 1), (10, 4), (20, 6), (79, 23)] {
        for screen in Screen::ALL {
            let mut app = app();
            app.screen = screen;
            let _ = screen_text(&app, (w, h));
            key(&mut app, KeyCode::Char('?'));
            let _ = screen_text(&app, (w, h));
        }
    }
}

#[test]
fn resizing_keeps_the_selection_and_redraws_at_the_new_size() {
    let mut app = app();
    typed(&mut app, ":pl");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Down);
    for size in [(80, 24), (200, 60), (80, 24)] {
        let text = screen_text(&app, size);
        assert_eq!(text.lines().count(), usize::from(size.1));
        assert!(text.contains("apiserver-1.sim:6443"), "{text}");
    }
    assert_eq!(app.selected, 1);
}

#[test]
fn commands_switch_screens_and_an_unknown_one_says_so() {
    let mut app = app();
    for (cmd, screen) in [
        ("pl", Screen::Levels),
        ("clients", Screen::Clients),
        ("calls", Screen::Calls),
        ("watches", Screen::Watches),
        ("etcd", Screen::Etcd),
    ] {
        key(&mut app, KeyCode::Char(':'));
        typed(&mut app, cmd);
        assert!(screen_text(&app, (80, 24)).contains(&format!(":{cmd}")));
        key(&mut app, KeyCode::Enter);
        assert_eq!(app.screen, screen, ":{cmd}");
    }
    key(&mut app, KeyCode::Char(':'));
    typed(&mut app, "nodes");
    key(&mut app, KeyCode::Enter);
    assert!(screen_text(&app, (80, 24)).contains("unknown command :nodes"));
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.screen, Screen::Overview);
    key(&mut app, KeyCode::Char('3'));
    assert_eq!(app.screen, Screen::Clients);
}

#[test]
fn the_levels_screen_shows_seats_per_replica_and_r_merges_them() {
    let mut app = app();
    key(&mut app, KeyCode::Char('2'));
    let text = screen_text(&app, (100, 30));
    assert!(text.contains("apiserver-0.sim:6443"), "{text}");
    assert!(text.contains("100%"), "{text}");
    assert_eq!(app.row_count(), 3);
    key(&mut app, KeyCode::Char('r'));
    assert_eq!(app.row_count(), 2);
    let text = screen_text(&app, (100, 30));
    assert!(!text.contains("apiserver-1.sim:6443"), "{text}");
    assert!(text.contains("all"), "{text}");
}

#[test]
fn the_levels_screen_shows_seats_used_over_the_limit_and_borrowing_at_80x24_and_wider() {
    let mut app = app();
    typed(&mut app, ":pl");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, Screen::Levels);
    let narrow = screen_text(&app, (80, 24));
    assert!(
        narrow.contains("SEATS") && narrow.contains("BORROW"),
        "{narrow}"
    );
    assert!(narrow.contains("56/56"), "{narrow}");
    assert!(narrow.contains("-189"), "{narrow}");
    assert!(narrow.contains("apiserver-0.sim"), "{narrow}");
    let wide = screen_text(&app, (140, 40));
    assert!(
        wide.contains("LOW-HIGH") && wide.contains("24-649"),
        "{wide}"
    );
    assert!(wide.contains("REQ/s"), "{wide}");
    // Merged over replicas, the seats add up: 56 + 52 in use of 112.
    key(&mut app, KeyCode::Char('r'));
    let merged = screen_text(&app, (80, 24));
    assert!(merged.contains("108/112"), "{merged}");
    assert!(merged.contains("-378"), "{merged}");
}

#[test]
fn enter_drills_from_level_to_its_clients_to_the_finding_and_y_shows_the_fix() {
    let mut app = app();
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, Screen::Clients);
    assert_eq!(app.filter, "workload-low");
    assert_eq!(app.visible_clients().len(), 1);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.overlay, Overlay::Client(0));
    let text = screen_text(&app, (80, 24));
    assert!(text.contains("page the LIST with limit=500"), "{text}");
    // The client's requests by verb and resource, the most frequent first.
    let text = screen_text(&app, (120, 40));
    let list = text.find("list pods").expect(&text);
    assert!(list < text.find("watch configmaps").expect(&text), "{text}");
    assert!(text.contains("4760"), "{text}");
    key(&mut app, KeyCode::Char('y'));
    let text = screen_text(&app, (80, 24));
    assert!(text.contains("kind: PriorityLevelConfiguration"), "{text}");
    // q closes the window first; only then does it quit.
    assert_eq!(key(&mut app, KeyCode::Char('q')), Effect::Redraw);
    assert_eq!(app.overlay, Overlay::None);
    assert_eq!(key(&mut app, KeyCode::Char('q')), Effect::Quit);
}

#[test]
fn enter_on_a_client_s_finding_shows_its_last_audit_events_and_esc_goes_back_to_it() {
    let mut app = app();
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.overlay, Overlay::Client(0));
    let text = screen_text(&app, (80, 24));
    assert!(text.contains("Enter or e: its last audit events"), "{text}");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.overlay, Overlay::Events(0));
    for size in [(80, 24), (120, 40)] {
        let text = screen_text(&app, size);
        assert!(text.contains("audit events"), "{text}");
        assert!(text.contains("newest first"), "{text}");
        let newest = text
            .lines()
            .position(|l| l.contains("01:00:00.250") && l.contains("list") && l.contains("200"))
            .expect(&text);
        let older = text
            .lines()
            .position(|l| l.contains("00:59:59.750") && l.contains("429"))
            .expect(&text);
        assert!(newest < older, "{text}");
        assert!(text.contains(" 4.2s "), "{text}");
        assert!(text.contains(" 2ms "), "{text}");
        assert!(text.contains("/api/v1/pods"), "{text}");
    }
    let wide = screen_text(&app, (120, 40));
    assert!(
        wide.contains("/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-17 · log-agent/2.1"),
        "{wide}"
    );
    // Esc goes back to the finding, a second Esc closes it; q quits only then.
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.overlay, Overlay::Client(0));
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.overlay, Overlay::None);
    // e opens the events straight from the clients screen.
    key(&mut app, KeyCode::Char('e'));
    assert_eq!(app.overlay, Overlay::Events(0));
    assert_eq!(key(&mut app, KeyCode::Char('q')), Effect::Redraw);
    assert_eq!(key(&mut app, KeyCode::Char('q')), Effect::Quit);
}

#[test]
fn a_source_without_audit_log_says_how_to_get_events() {
    let mut frame = frame();
    frame.audit_log = false;
    for c in &mut frame.clients {
        c.events.clear();
    }
    let mut app = App::new(Duration::from_secs(2));
    app.set_frame(frame, Instant::now());
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Char('e'));
    let text = screen_text(&app, (80, 24));
    assert!(
        text.contains("no audit log: start with --audit-log FILE"),
        "{text}"
    );
}

#[test]
fn esc_and_backspace_go_back_up_the_drill_down_to_the_level() {
    let mut app = app();
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, Screen::Clients);
    // The level's FlowSchemas are listed under its clients.
    let text = screen_text(&app, (100, 30));
    assert!(text.contains("FLOW SCHEMA"), "{text}");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.overlay, Overlay::Client(0));
    key(&mut app, KeyCode::Backspace);
    assert_eq!(app.overlay, Overlay::None);
    assert_eq!(app.screen, Screen::Clients);
    key(&mut app, KeyCode::Backspace);
    assert_eq!((app.screen, app.selected), (Screen::Levels, 1));
    assert!(app.filter.is_empty());
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.screen, Screen::Levels);
}

#[test]
fn y_on_a_client_without_finding_says_there_is_nothing_to_fix() {
    let mut app = app();
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Char('y'));
    let text = screen_text(&app, (80, 24));
    assert!(text.contains("the doctor found nothing to fix"), "{text}");
}

#[test]
fn slash_filters_rows_and_esc_clears_the_filter() {
    let mut app = app();
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "replicaset");
    assert_eq!(app.visible_clients().len(), 1);
    key(&mut app, KeyCode::Enter);
    let text = screen_text(&app, (100, 30));
    assert!(text.contains("replicaset-controller"), "{text}");
    assert!(!text.contains("sa:logging:log-agent"), "{text}");
    key(&mut app, KeyCode::Esc);
    assert!(app.filter.is_empty());
    assert_eq!(app.visible_clients().len(), 2);
}

#[test]
fn help_lists_every_screen_command() {
    let mut app = app();
    key(&mut app, KeyCode::Char('?'));
    let text = screen_text(&app, (80, 24));
    for cmd in [":pl", ":clients", ":calls", ":watches", ":etcd", "q"] {
        assert!(text.contains(cmd), "{cmd}\n{text}");
    }
}

#[test]
fn left_and_right_move_through_history_and_ask_for_a_frame() {
    let mut app = app();
    assert_eq!(key(&mut app, KeyCode::Right), Effect::Redraw);
    assert_eq!(key(&mut app, KeyCode::Left), Effect::Fetch);
    assert_eq!(key(&mut app, KeyCode::Left), Effect::Fetch);
    assert_eq!(app.history, Duration::from_secs(120));
    assert!(screen_text(&app, (80, 24)).contains("2m ago"));
    assert_eq!(key(&mut app, KeyCode::Right), Effect::Fetch);
    assert_eq!(key(&mut app, KeyCode::Right), Effect::Fetch);
    assert!(app.history.is_zero());
    assert!(screen_text(&app, (80, 24)).contains("live"));
}

#[test]
fn a_source_error_shows_in_the_status_line_and_keeps_the_frame() {
    let mut app = app();
    app.set_error(
        "http://127.0.0.1:1: connection refused".into(),
        Instant::now(),
    );
    let text = screen_text(&app, (80, 24));
    let last = text.lines().last().unwrap();
    assert!(last.contains("connection refused"), "{text}");
    assert!(last.contains("showing the last frame"), "{text}");
    assert!(text.contains("CRITICAL: APF workload-low"), "{text}");
    // A long error wraps onto the lines it needs instead of losing its cause.
    let cause = "tcp connect error: Connection refused (os error 111)";
    let mut app = App::new(Duration::from_secs(2));
    app.set_error(
        format!("http://prometheus.monitoring.svc:9090: remote http://prometheus.monitoring.svc:9090/api/v1/query: error sending request: {cause}"),
        Instant::now(),
    );
    let text = screen_text(&app, (80, 24));
    let tail: String = text.lines().skip(21).collect::<Vec<_>>().join(" ");
    assert!(tail.contains("os error 111) (0s ago; retrying)"), "{text}");
}

#[test]
fn what_a_frame_could_not_read_shows_in_the_status_line_and_a_server_finding_in_the_verdict() {
    let mut app = App::new(Duration::from_secs(2));
    let jail = "FlowSchema jail-noisy jails its clients in catch-all, the shared fallback level";
    app.set_frame(
        Frame {
            overall: "OK: nothing stands out".into(),
            findings: vec![FindingLine {
                severity: "WARNING".into(),
                kind: "apf-jail-in-catch-all".into(),
                title: jail.into(),
                client: String::new(),
                evidence: vec!["FlowSchema jail-noisy sends 40% of catch-all's seats".into()],
                fix_yaml: "apiVersion: flowcontrol.apiserver.k8s.io/v1\nkind: FlowSchema\nmetadata:\n  name: jail-noisy\n".into(),
                advice: vec!["delete FlowSchema jail-noisy".into()],
            }],
            errors: vec![
                "GET /debug/api_priority_and_fairness/dump_queues from 10.0.0.1:6443: HTTP 403: forbidden".into(),
                "GET /debug/api_priority_and_fairness/dump_queues from 10.0.0.2:6443: HTTP 403: forbidden".into(),
            ],
            ..Frame::default()
        },
        Instant::now(),
    );
    let text = screen_text(&app, (80, 24));
    let tail: String = text.lines().skip(21).collect::<Vec<_>>().join(" ");
    assert!(
        tail.contains("dump_queues from 10.0.0.1:6443: HTTP 403: forbidden (and 1 more)"),
        "{text}"
    );
    // The overview keeps the report's verdict; the other screens give the doctor's word.
    assert!(
        text.lines()
            .nth(1)
            .unwrap()
            .contains("OK: nothing stands out"),
        "{text}"
    );
    app.screen = Screen::Levels;
    let text = screen_text(&app, (120, 30));
    let verdict = text.lines().nth(1).unwrap();
    assert!(
        verdict.starts_with("doctor WARNING FlowSchema jail-noisy jails"),
        "{text}"
    );
    // On the clients screen the finding about the server is a row: Enter and y show its
    // evidence, remediation and YAML.
    for (open, size) in [(KeyCode::Enter, (80, 24)), (KeyCode::Char('y'), (120, 40))] {
        key(&mut app, KeyCode::Char('3'));
        let text = screen_text(&app, size);
        assert!(text.contains("(server) FlowSchema jail-"), "{text}");
        key(&mut app, open);
        assert_eq!(app.overlay, Overlay::Finding(0));
        let text = screen_text(&app, size);
        assert!(text.contains("sends 40% of catch-all's seats"), "{text}");
        assert!(text.contains("delete FlowSchema jail-noisy"), "{text}");
        assert!(text.contains("kind: FlowSchema"), "{text}");
        key(&mut app, KeyCode::Esc);
    }
    // A frame read without a problem gives the key hints back.
    app.set_frame(Frame::default(), Instant::now());
    assert!(
        screen_text(&app, (80, 24))
            .lines()
            .last()
            .unwrap()
            .contains("?:help")
    );
}

#[test]
fn a_stale_frame_says_how_stale_it_is() {
    let mut app = App::new(Duration::from_secs(2));
    app.set_frame(frame(), Instant::now() - Duration::from_secs(30));
    let text = screen_text(&app, (100, 30));
    assert!(text.lines().next().unwrap().contains("STALE"), "{text}");
}

#[test]
fn no_color_draws_without_colours_and_colour_draws_levels_in_red() {
    let app = app();
    let plain = draw_to_buffer(&app, PLAIN, 100, 30);
    assert!(
        plain
            .content
            .iter()
            .all(|c| c.fg == Color::Reset && c.bg == Color::Reset),
        "a colour under NO_COLOR"
    );
    let coloured = draw_to_buffer(&app, COLOUR, 100, 30);
    assert!(coloured.content.iter().any(|c| c.fg == Color::Red));
}

#[test]
fn ctrl_c_quits_from_anywhere() {
    let mut app = app();
    key(&mut app, KeyCode::Char(':'));
    let effect = app.handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert_eq!(effect, Effect::Quit);
}

#[test]
fn the_first_frame_seeds_the_sparklines_with_the_window_s_history() {
    let mut app = app();
    let points = |app: &App, title: &str| {
        app.sparks
            .iter()
            .find(|(t, _)| t == title)
            .map(|(_, p)| p.clone())
            .unwrap()
    };
    // The stored trend up to the end, then the figure at the end.
    assert_eq!(
        points(&app, "Priority and Fairness"),
        vec![40_000, 70_000, 100_000]
    );
    assert_eq!(points(&app, "Watches"), vec![120_000]);
    // Later frames add one point each; the trend seeds only the first.
    app.set_frame(frame(), Instant::now());
    assert_eq!(
        points(&app, "Priority and Fairness"),
        vec![40_000, 70_000, 100_000, 100_000]
    );
    let text = screen_text(&app, (120, 40));
    assert!(
        text.contains("▄▆██"),
        "the overview draws the seeded line:\n{text}"
    );
}

#[test]
fn clients_read_before_the_frame_say_how_much_earlier() {
    let mut app = app();
    app.screen = Screen::Clients;
    assert!(!screen_text(&app, (120, 40)).contains("clients as of"));
    let mut f = frame();
    f.clients_end_ms = Some(f.end_ms - 12_000);
    app.set_frame(f, Instant::now());
    let text = screen_text(&app, (120, 40));
    assert!(text.contains("clients as of 12s earlier"), "{text}");
    app.screen = Screen::Levels;
    assert!(!screen_text(&app, (120, 40)).contains("clients as of"));
}
