//! The draw-and-predict page and `POST /predict`, and the HTML report, in a real browser: Debian's
//! Chromium driven headless through chromedriver (WebDriver) with fantoccini.
//!
//! `make test` installs `chromium` and `chromium-driver`. Without them these tests fail with a
//! message saying so; `EMNIST_SKIP_BROWSER=1` skips the browser part explicitly.

use std::io::{BufRead, BufReader, Cursor};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use emnist_serve::server::{router, AppState, ServeConfig};

use crate::common::{emnist_cmd, fixture};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

fn skip_browser() -> bool {
    if std::env::var_os("EMNIST_SKIP_BROWSER").is_some() {
        // Straight to the stderr stream: libtest captures `eprintln!` of passing tests.
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "SKIPPED: EMNIST_SKIP_BROWSER is set: the browser checks are skipped");
        return true;
    }
    assert!(
        Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists(),
        "the browser tests need Debian's chromium and chromium-driver (`make setup` installs them), or EMNIST_SKIP_BROWSER=1"
    );
    false
}

/// chromedriver on a free port, stopped on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    /// `--port=0`: chromedriver binds a free port itself and says which on stdout (it writes no
    /// file, so its one start line is read); a port picked here and passed on could be taken
    /// by another process in between.
    fn start() -> Driver {
        let mut child =
            Command::new(CHROMEDRIVER).arg("--port=0").stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port = loop {
            let line = match lines.next() {
                Some(line) => line.unwrap(),
                None => panic!("chromedriver exited before it listened ({:?})", child.wait()),
            };
            // "ChromeDriver was started successfully on port 44603."
            if let Some(rest) = line.split("started successfully on port ").nth(1) {
                break rest.trim_end_matches('.').parse::<u16>().expect("a port number");
            }
        };
        std::thread::spawn(move || lines.for_each(drop));
        let url = format!("http://127.0.0.1:{port}");
        let t0 = Instant::now();
        while ureq::get(format!("{url}/status")).call().is_err() {
            assert!(t0.elapsed() < Duration::from_secs(20), "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Driver { child, url }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Headless Chromium with the flags this machine needs (no sandbox as root, no network chatter).
async fn browser(driver: &Driver, profile: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-dev-shm-usage",
                     format!("--user-data-dir={}", profile.display()), "--window-size=900,640"]
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("cannot start Chromium through chromedriver")
}

/// The server in this process on a real socket; returns its base URL.
async fn serve(model: &Path) -> String {
    let mut cfg = ServeConfig::new(model.to_path_buf());
    cfg.engine = emnist_runtime::EngineKind::Tract;
    let state = AppState::new(emnist_runtime::ServedModel::load(model, &Default::default()).unwrap(), &cfg).unwrap();
    let app = router(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// [`serve`] with a payload log in `log_dir`; also returns the server's state.
async fn serve_logged(model: &Path, log_dir: &Path) -> (String, std::sync::Arc<AppState>) {
    let mut cfg = ServeConfig::new(model.to_path_buf());
    cfg.engine = emnist_runtime::EngineKind::Tract;
    cfg.log = Some(emnist_serve::server::payload::PayloadConfig::new(log_dir.to_path_buf()));
    let state = AppState::new(emnist_runtime::ServedModel::load(model, &Default::default()).unwrap(), &cfg).unwrap();
    let app = router(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), state)
}

/// Draws a "7" on the page's canvas with real pointer events: a bar across the top and a stroke
/// down to the left.
async fn draw_seven(c: &Client) {
    let canvas = c.find(Locator::Id("canvas")).await.unwrap();
    let at = |x: f64, y: f64| PointerAction::MoveToElement {
        element: canvas.clone(),
        duration: Some(Duration::from_millis(150)),
        x,
        y,
    };
    let strokes = MouseActions::new("pen".to_string())
        .then(at(-70.0, -90.0))
        .then(PointerAction::Down { button: MOUSE_BUTTON_LEFT })
        .then(at(0.0, -92.0))
        .then(at(70.0, -90.0))
        .then(at(20.0, 10.0))
        .then(at(-15.0, 100.0))
        .then(PointerAction::Up { button: MOUSE_BUTTON_LEFT });
    c.perform_actions(strokes).await.unwrap();
}

/// The model the page test uses: `EMNIST_PAGE_MODEL` (e.g. the demo's `models/dnn.onnx`, for a
/// screenshot with meaningful predictions), else a small hand-built one.
fn page_model(dir: &Path) -> PathBuf {
    match std::env::var_os("EMNIST_PAGE_MODEL") {
        Some(p) => PathBuf::from(p),
        None => crate::serve::model_file(dir, 21),
    }
}

fn decode_base64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let bytes: Vec<u8> = s.bytes().filter(|&c| c != b'=').map(val).collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for c in bytes.chunks(4) {
        let n = c.iter().enumerate().fold(0u32, |n, (i, &v)| n | (v as u32) << (18 - 6 * i));
        out.extend_from_slice(&n.to_be_bytes()[1..c.len()]);
    }
    out
}

fn predictions(v: &Value) -> Vec<(String, f64)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| (p["label"].as_str().unwrap().to_string(), p["probability"].as_f64().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_draws_and_predicts_like_the_endpoint() {
    if skip_browser() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = page_model(dir.path());
    let url = serve(&model).await;
    let driver = Driver::start();
    let c = browser(&driver, &dir.path().join("profile")).await;
    c.goto(&url).await.unwrap();
    assert_eq!(c.title().await.unwrap(), "emnist — draw a character");
    let info = c.find(Locator::Id("model")).await.unwrap().text().await.unwrap();
    assert!(info.contains("classes") && info.contains("emnist"), "{info}");
    assert_eq!(c.find_all(Locator::Css("#predictions li")).await.unwrap().len(), 0);
    // Without a payload log the correction control is hidden, and the page says why.
    assert!(!c.find(Locator::Id("feedback")).await.unwrap().is_displayed().await.unwrap());
    let counts = c.find(Locator::Id("counts")).await.unwrap().text().await.unwrap();
    assert!(counts.contains("Corrections are off"), "{counts}");

    draw_seven(&c).await;
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css("#predictions li"))
        .await
        .expect("no prediction appeared");
    // The answer for the finished drawing (sent on pointerup) has landed when the page is idle.
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css("body[data-state=idle]"))
        .await
        .expect("the page never settled");
    let shown = c
        .execute("return Array.from(document.querySelectorAll('#predictions li')).map(li => ({label: li.dataset.label, probability: Number(li.dataset.probability)}))", vec![])
        .await
        .unwrap();
    let shown = predictions(&shown);
    assert_eq!(shown.len(), 5);
    assert!(shown.windows(2).all(|w| w[0].1 >= w[1].1), "sorted: {shown:?}");

    // The canvas as the page sent it, POSTed to /predict directly: the same answer.
    let data_url = c.execute("return document.getElementById('canvas').toDataURL('image/png')", vec![]).await.unwrap();
    let png = decode_base64(data_url.as_str().unwrap().strip_prefix("data:image/png;base64,").unwrap());
    let mut resp = ureq::post(format!("{url}/predict?k=5")).header("content-type", "image/png").send(&png[..]).unwrap();
    let direct: Value = serde_json::from_slice(&resp.body_mut().read_to_vec().unwrap()).unwrap();
    let direct = predictions(&direct);
    assert_eq!(shown.iter().map(|p| &p.0).collect::<Vec<_>>(), direct.iter().map(|p| &p.0).collect::<Vec<_>>());
    for (a, b) in shown.iter().zip(&direct) {
        assert!((a.1 - b.1).abs() < 1e-6, "{shown:?} vs {direct:?}");
    }
    // What the model saw is shown too (a 28×28 preview with ink in it).
    let ink: f64 = c
        .execute("const d = document.getElementById('seen').getContext('2d').getImageData(0, 0, 28, 28).data; let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i]; return s;", vec![])
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    assert!(ink > 0.0);
    save_screenshot(&c, "page.png").await;

    // Clear empties the canvas and the list.
    c.find(Locator::Id("clear")).await.unwrap().click().await.unwrap();
    assert_eq!(c.find_all(Locator::Css("#predictions li")).await.unwrap().len(), 0);
    c.close().await.unwrap();
}

/// With `--log-dir`, the page lets a person correct or confirm each answer: the correction goes
/// to `POST /feedback` under the answer's request id, the page shows the count, and the log
/// holds the feedback beside the image it is about.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_records_corrections_and_confirmations_in_the_log() {
    if skip_browser() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = page_model(dir.path());
    let log_dir = dir.path().join("log");
    let (url, state) = serve_logged(&model, &log_dir).await;
    let names = state.default_version().unwrap().model.class_names.clone();
    let driver = Driver::start();
    let c = browser(&driver, &dir.path().join("profile")).await;
    c.goto(&url).await.unwrap();
    assert!(c.find(Locator::Id("feedback")).await.unwrap().is_displayed().await.unwrap());
    assert_eq!(c.find(Locator::Id("counts")).await.unwrap().text().await.unwrap(), "0 corrections recorded");
    let options = c.execute("return Array.from(document.querySelectorAll('#truth option')).map(o => o.value)", vec![]);
    let mut want = vec![String::new()];
    want.extend(names.iter().cloned());
    assert_eq!(options.await.unwrap(), json!(want), "the model's classes, after a blank choice");
    assert!(!c.find(Locator::Id("right")).await.unwrap().is_enabled().await.unwrap(), "nothing to judge yet");

    // A drawing, answered: the control judges that answer.
    draw_seven(&c).await;
    let answered = Locator::Css("body[data-state=idle][data-request-id]");
    c.wait().at_most(Duration::from_secs(15)).for_element(answered).await.expect("no answer to judge");
    let judged = |c: &Client| {
        let c = c.clone();
        async move {
            let v = c
                .execute(
                    "return [document.body.dataset.requestId, document.querySelector('#predictions li').dataset.label]",
                    vec![],
                )
                .await
                .unwrap();
            (v[0].as_str().unwrap().to_string(), v[1].as_str().unwrap().to_string())
        }
    };
    let (id, top) = judged(&c).await;
    assert!(!c.find(Locator::Id("send")).await.unwrap().is_enabled().await.unwrap(), "no class chosen yet");
    // "That's wrong, it's a …": a class other than the answer's.
    let truth = names.iter().find(|n| **n != top).unwrap().as_str();
    c.find(Locator::Id("truth")).await.unwrap().select_by_value(truth).await.unwrap();
    c.find(Locator::Id("send")).await.unwrap().click().await.unwrap();
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css("#counts[data-corrections='1']"))
        .await
        .expect("the correction was not counted");
    assert_eq!(c.find(Locator::Id("counts")).await.unwrap().text().await.unwrap(), "1 correction recorded");
    let status = c.find(Locator::Id("status")).await.unwrap().text().await.unwrap();
    assert!(status.contains(&format!("recorded as “{truth}”")), "{status}");
    assert!(!c.find(Locator::Id("right")).await.unwrap().is_enabled().await.unwrap(), "one verdict per answer");
    save_screenshot(&c, "page-feedback.png").await;

    // Another drawing, confirmed with "Right".
    c.find(Locator::Id("clear")).await.unwrap().click().await.unwrap();
    draw_seven(&c).await;
    c.wait().at_most(Duration::from_secs(15)).for_element(answered).await.expect("no second answer");
    let (second, second_top) = judged(&c).await;
    assert_ne!(second, id, "each answer has its own id");
    c.find(Locator::Id("right")).await.unwrap().click().await.unwrap();
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::XPath("//p[@id='status' and contains(., 'recorded as right')]"))
        .await
        .expect("the confirmation was not recorded");
    assert_eq!(c.find(Locator::Id("counts")).await.unwrap().text().await.unwrap(), "1 correction recorded");
    c.close().await.unwrap();

    // The log: each verdict names an image the page's request logged, under the id it carried.
    state.payload().unwrap().close();
    let log = emnist_data::payload_log::read_dir(&log_dir).unwrap();
    let verdicts: Vec<(&str, &str)> = log.feedback.iter().map(|f| (f.id.as_str(), f.label.as_str())).collect();
    assert_eq!(verdicts, [(id.as_str(), truth), (second.as_str(), second_top.as_str())]);
    for (id, _) in &verdicts {
        let p = log.predictions.iter().find(|p| p.id == *id).expect("the judged image is logged");
        assert_eq!(p.protocol, "predict");
        assert!(p.pixels.iter().any(|&v| v > 0), "the drawing as the model saw it");
    }
    assert_eq!(log.labelled().len(), 2);
    assert_eq!(state.payload().unwrap().feedback_counts(), (1, 1));
}

/// Characters as a person draws them on the 280×280 canvas: hand-authored pen paths (x, y from
/// the canvas centre, y down), one inner slice per stroke, in the order people write them.
/// A character's pen strokes: each a path of (x, y) points.
type Strokes = &'static [&'static [(f64, f64)]];

const HANDWRITING: [(&str, Strokes); 14] = [
    (
        "0",
        &[&[
            (5.0, -95.0),
            (-30.0, -85.0),
            (-50.0, -45.0),
            (-55.0, 10.0),
            (-45.0, 65.0),
            (-15.0, 95.0),
            (20.0, 92.0),
            (45.0, 60.0),
            (55.0, 5.0),
            (48.0, -50.0),
            (30.0, -85.0),
            (0.0, -95.0),
        ]],
    ),
    ("1", &[&[(-30.0, -62.0), (5.0, -95.0), (2.0, -20.0), (0.0, 95.0)]]),
    (
        "2",
        &[&[
            (-50.0, -55.0),
            (-30.0, -85.0),
            (0.0, -96.0),
            (35.0, -85.0),
            (50.0, -55.0),
            (38.0, -15.0),
            (-10.0, 40.0),
            (-55.0, 92.0),
            (5.0, 90.0),
            (60.0, 92.0),
        ]],
    ),
    (
        "3",
        &[&[
            (-45.0, -78.0),
            (-10.0, -96.0),
            (30.0, -90.0),
            (45.0, -62.0),
            (32.0, -28.0),
            (-5.0, -8.0),
            (30.0, 8.0),
            (50.0, 40.0),
            (42.0, 78.0),
            (5.0, 96.0),
            (-30.0, 90.0),
            (-50.0, 70.0),
        ]],
    ),
    (
        "4",
        &[
            &[(15.0, -95.0), (-20.0, -20.0), (-55.0, 35.0), (0.0, 35.0), (60.0, 35.0)],
            &[(32.0, -45.0), (31.0, 20.0), (30.0, 95.0)],
        ],
    ),
    (
        "5",
        &[
            &[
                (-35.0, -92.0),
                (-42.0, -45.0),
                (-45.0, -8.0),
                (-5.0, -25.0),
                (35.0, -12.0),
                (52.0, 25.0),
                (45.0, 70.0),
                (10.0, 95.0),
                (-25.0, 92.0),
                (-50.0, 72.0),
            ],
            &[(-35.0, -94.0), (10.0, -95.0), (50.0, -96.0)],
        ],
    ),
    (
        "6",
        &[&[
            (40.0, -90.0),
            (5.0, -95.0),
            (-30.0, -65.0),
            (-50.0, -10.0),
            (-50.0, 50.0),
            (-30.0, 88.0),
            (5.0, 96.0),
            (38.0, 80.0),
            (50.0, 40.0),
            (35.0, 5.0),
            (0.0, -5.0),
            (-30.0, 10.0),
            (-48.0, 40.0),
        ]],
    ),
    ("7", &[&[(-55.0, -90.0), (0.0, -92.0), (58.0, -92.0), (30.0, -30.0), (10.0, 30.0), (-5.0, 95.0)]]),
    (
        "8",
        &[&[
            (35.0, -72.0),
            (10.0, -95.0),
            (-25.0, -90.0),
            (-40.0, -62.0),
            (-25.0, -30.0),
            (5.0, -12.0),
            (38.0, 15.0),
            (48.0, 55.0),
            (25.0, 90.0),
            (-10.0, 95.0),
            (-40.0, 75.0),
            (-42.0, 35.0),
            (-15.0, 5.0),
            (20.0, -25.0),
            (36.0, -55.0),
            (35.0, -72.0),
        ]],
    ),
    (
        "9",
        &[&[
            (42.0, -62.0),
            (20.0, -92.0),
            (-15.0, -95.0),
            (-42.0, -70.0),
            (-45.0, -35.0),
            (-20.0, -12.0),
            (15.0, -15.0),
            (40.0, -40.0),
            (42.0, -62.0),
            (40.0, 0.0),
            (35.0, 50.0),
            (30.0, 95.0),
        ]],
    ),
    (
        "A",
        &[
            &[(-58.0, 95.0), (-30.0, 0.0), (0.0, -95.0), (30.0, 0.0), (58.0, 95.0)],
            &[(-32.0, 22.0), (0.0, 20.0), (32.0, 22.0)],
        ],
    ),
    ("L", &[&[(-40.0, -95.0), (-42.0, 0.0), (-42.0, 92.0), (5.0, 92.0), (50.0, 90.0)]]),
    ("T", &[&[(-62.0, -92.0), (0.0, -94.0), (62.0, -92.0)], &[(0.0, -92.0), (1.0, 0.0), (2.0, 95.0)]]),
    (
        "H",
        &[
            &[(-48.0, -95.0), (-50.0, 0.0), (-50.0, 95.0)],
            &[(50.0, -95.0), (48.0, 0.0), (48.0, 95.0)],
            &[(-50.0, 0.0), (0.0, -2.0), (48.0, -2.0)],
        ],
    ),
];

/// The demo's served model: `EMNIST_DEMO_MODEL` (e.g. `models/cnn-best.onnx` after `make demo`),
/// else trained here with the demo's own command (`scripts/train_demo_model.sh`) and exported.
fn demo_model(dir: &Path) -> PathBuf {
    if let Some(p) = std::env::var_os("EMNIST_DEMO_MODEL") {
        return PathBuf::from(p);
    }
    let run = dir.join("cnn-best");
    let cache = dir.join("cache");
    let status = Command::new("bash")
        .arg(crate::common::workspace().join("scripts/train_demo_model.sh"))
        .arg(crate::common::emnist_bin())
        .arg(&run)
        .arg("--quiet")
        .env("EMNIST_CACHE_DIR", &cache)
        .status()
        .unwrap();
    assert!(status.success(), "training the demo's model failed");
    let out = emnist_cmd().args(["export", "--onnx", "--quiet", "--model"]).arg(&run).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    dir.join("cnn-best.onnx")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_model_reads_digits_drawn_on_the_page() {
    if skip_browser() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = tokio::task::spawn_blocking({
        let dir = dir.path().to_path_buf();
        move || demo_model(&dir)
    })
    .await
    .unwrap();
    let url = serve(&model).await;
    let driver = Driver::start();
    let c = browser(&driver, &dir.path().join("profile")).await;
    c.goto(&url).await.unwrap();
    let canvas = c.find(Locator::Id("canvas")).await.unwrap();
    let mut read = Vec::new();
    for (truth, strokes) in HANDWRITING {
        let at = |(x, y): (f64, f64), ms: u64| PointerAction::MoveToElement {
            element: canvas.clone(),
            duration: Some(Duration::from_millis(ms)),
            x,
            y,
        };
        let mut pen = MouseActions::new("pen".to_string());
        for stroke in strokes {
            pen = pen.then(at(stroke[0], 50)).then(PointerAction::Down { button: MOUSE_BUTTON_LEFT });
            for &p in &stroke[1..] {
                pen = pen.then(at(p, 40));
            }
            pen = pen.then(PointerAction::Up { button: MOUSE_BUTTON_LEFT });
        }
        c.perform_actions(pen).await.unwrap();
        c.wait()
            .at_most(Duration::from_secs(15))
            .for_element(Locator::Css("body[data-state=idle] #predictions li"))
            .await
            .expect("no prediction appeared");
        let top = c.execute("return document.querySelector('#predictions li').dataset.label", vec![]).await.unwrap();
        let top = top.as_str().unwrap().to_string();
        if truth == "3" {
            save_screenshot(&c, "page-handwriting.png").await;
        }
        read.push((truth, top));
        c.find(Locator::Id("clear")).await.unwrap().click().await.unwrap();
    }
    c.close().await.unwrap();
    let digits = read[..10].iter().filter(|(t, p)| t == p).count();
    let letters = read[10..].iter().filter(|(t, p)| t == p).count();
    eprintln!("the demo model read {digits}/10 digits and {letters}/4 letters: {read:?}");
    assert!(digits >= 8, "the demo model must read at least 8 of the 10 drawn digits: {read:?}");
    assert!(letters >= 2, "the demo model should read at least half of the drawn capitals: {read:?}");
}

/// Screenshots go to `target/screenshots/` (the README's come from there).
async fn save_screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    let dir = crate::common::workspace().join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

/// A models folder as the pipeline leaves it: two runs (hand-built weights, a metrics.csv each),
/// both exported, the DNN served and queried.
async fn pipeline_artifacts(models: &Path) {
    use emnist_model::record::{metrics_csv, MetricsRow};
    use emnist_model::Architecture;
    for (name, arch) in [("linear", Architecture::Linear), ("dnn", Architecture::Dnn { hidden: vec![32, 16] })] {
        let run = models.join(name);
        crate::common::hand_built_run(&run, arch, emnist_data::ClassTable::numbered(10), 31, None);
        let rows: Vec<MetricsRow> = (1..=5)
            .map(|i| MetricsRow {
                step: i * 10,
                epoch: i as f64 / 5.0,
                train_loss: 2.0 / i as f64,
                train_acc: 0.1 * i as f64,
                test_loss: 2.1 / i as f64,
                test_acc: 0.09 * i as f64,
            })
            .collect();
        std::fs::write(run.join("metrics.csv"), metrics_csv(&rows)).unwrap();
        let o = emnist_cmd()
            .args(["export", "--onnx", "--model"])
            .arg(&run)
            .arg("--data")
            .arg(fixture("mnist-style"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(models.join(format!("{name}.export.json")).is_file(), "export leaves its report beside the file");
    }
    let onnx = models.join("dnn.onnx");
    let url = serve(&onnx).await;
    let query = tokio::task::spawn_blocking({
        let onnx = onnx.clone();
        move || {
            emnist_cmd()
                .args(["query", "--n", "20", "--url", &url, "--model"])
                .arg(&onnx)
                .arg("--data")
                .arg(fixture("mnist-style"))
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(query.status.success(), "{}", String::from_utf8_lossy(&query.stderr));
    assert!(models.join("dnn.query.json").is_file(), "query leaves its report beside the model file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_gathers_every_artifact_and_renders_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    pipeline_artifacts(&models).await;
    let out = dir.path().join("reports/index.html");
    let o = emnist_cmd()
        .args(["report", "--json", "--models"])
        .arg(&models)
        .arg("--out")
        .arg(&out)
        .arg("--data")
        .arg(fixture("mnist-style"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["runs"], json!(["dnn", "linear"]));
    assert_eq!(summary["exports"], json!(["dnn", "linear"]));
    assert_eq!(summary["queries"], json!(["dnn"]));
    let html = std::fs::read_to_string(&out).unwrap();
    for id in emnist_report::report::SECTIONS {
        assert!(html.contains(&format!("<section id=\"{id}\">")), "section {id} missing");
    }
    for text in ["graphpipe", "tfserving", "kserve", "PASS", "data:image/png;base64,", "test accuracy", "train + "] {
        assert!(html.contains(text), "the report lacks {text:?}");
    }
    assert!(!html.contains("src=\"http") && !html.contains("<link"), "self-contained");

    if skip_browser() {
        return;
    }
    let driver = Driver::start();
    let c = browser(&driver, &dir.path().join("profile")).await;
    c.goto(&format!("file://{}", out.display())).await.unwrap();
    assert_eq!(c.title().await.unwrap(), "emnist report");
    let state = c
        .execute(
            "const imgs = Array.from(document.images);
             return { images: imgs.length, broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).length,
                      sections: Array.from(document.querySelectorAll('section')).map(s => s.id),
                      height: document.body.scrollHeight };",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(state["broken"], 0, "every inlined image decodes: {state}");
    assert!(state["images"].as_u64().unwrap() >= 4, "{state}");
    assert_eq!(state["sections"], json!(emnist_report::report::SECTIONS));
    assert!(state["height"].as_f64().unwrap() > 1000.0, "{state}");
    // `EMNIST_REPORT_HTML` (e.g. the demo's reports/index.html) is what the README's screenshot shows.
    if let Some(other) = std::env::var_os("EMNIST_REPORT_HTML") {
        c.goto(&format!("file://{}", std::fs::canonicalize(other).unwrap().display())).await.unwrap();
    }
    c.execute("document.getElementById('models').scrollIntoView()", vec![]).await.unwrap();
    save_screenshot(&c, "report.png").await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predict_takes_png_jpeg_multipart_and_emnist_crops() {
    let dir = tempfile::tempdir().unwrap();
    let model = crate::serve::model_file(dir.path(), 22);
    let url = serve(&model).await;
    let tract = emnist_runtime::ServedModel::load(&model, &Default::default()).unwrap().model;
    let test = crate::serve::test_images();
    // A real 28×28 test image as a PNG: used as it is, so /predict equals the model on its pixels.
    let img = image::GrayImage::from_raw(28, 28, test.image(0).to_vec()).unwrap();
    let mut png = Vec::new();
    img.write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    let post = |url: String, ct: String, body: Vec<u8>| {
        tokio::task::spawn_blocking(move || {
            let mut r = ureq::post(url)
                .config()
                .http_status_as_error(false)
                .build()
                .header("content-type", ct)
                .send(&body[..])
                .unwrap();
            (r.status().as_u16(), serde_json::from_slice::<Value>(&r.body_mut().read_to_vec().unwrap()).unwrap())
        })
    };
    let (status, v) = post(format!("{url}/predict?k=10&detail=1"), "image/png".into(), png.clone()).await.unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["as_is"], true);
    assert_eq!(v["inverted"], false);
    let x: Vec<f32> = emnist_model::contract::to_input(test.image(0));
    let want = tract.run(&x).unwrap().probabilities;
    for p in v["predictions"].as_array().unwrap() {
        let i: usize = p["label"].as_str().unwrap().parse().unwrap();
        assert!((p["probability"].as_f64().unwrap() as f32 - want[i]).abs() < 1e-6);
    }
    // The same picture as a multipart form field named `image`, as the seed's Flask app took it.
    let boundary = "emnist-test-boundary";
    let mut form = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.png\"\r\nContent-Type: image/png\r\n\r\n").into_bytes();
    form.extend_from_slice(&png);
    form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let (status, multipart) =
        post(format!("{url}/predict"), format!("multipart/form-data; boundary={boundary}"), form).await.unwrap();
    assert_eq!(status, 200, "{multipart}");
    assert_eq!(multipart.as_array().unwrap().len(), 5);
    assert_eq!(multipart[0]["label"], v["predictions"][0]["label"]);
    // A big dark-on-light JPEG photo-like drawing: inverted and framed.
    let big = image::GrayImage::from_fn(400, 300, |x, y| {
        image::Luma([if (180..220).contains(&x) && (50..250).contains(&y) { 20 } else { 235 }])
    });
    let mut jpeg = Vec::new();
    image::DynamicImage::ImageLuma8(big).write_to(&mut Cursor::new(&mut jpeg), image::ImageFormat::Jpeg).unwrap();
    let (status, v) = post(format!("{url}/predict?detail=1"), "image/jpeg".into(), jpeg).await.unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!((v["inverted"].as_bool(), v["as_is"].as_bool()), (Some(true), Some(false)));
    // Bad input: 4xx with a message.
    for (ct, body, q, status, text) in [
        ("image/png", b"not a picture".to_vec(), "", 415, "PNG or JPEG"),
        ("image/png", Vec::new(), "", 400, "send a PNG or JPEG"),
        ("image/png", png.clone(), "?k=0", 400, "`k`"),
        ("image/png", png.clone(), "?k=11", 400, "`k`"),
        (
            "multipart/form-data; boundary=x",
            b"--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc\r\n--x--\r\n".to_vec(),
            "",
            400,
            "`image`",
        ),
        ("multipart/form-data; boundary=x", b"garbage".to_vec(), "", 400, ""),
    ] {
        let (got, v) = post(format!("{url}/predict{q}"), ct.into(), body).await.unwrap();
        assert_eq!(got, status, "{ct} {q}: {v}");
        assert!(v["error"].as_str().unwrap().contains(text), "{v}");
    }
    let blank = image::GrayImage::from_pixel(64, 64, image::Luma([255]));
    let mut png = Vec::new();
    blank.write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    let (status, v) = post(format!("{url}/predict"), "image/png".into(), png).await.unwrap();
    assert_eq!(status, 400);
    assert!(v["error"].as_str().unwrap().contains("no ink"));
}

/// A page on another origin (a second server in this process) draws a digit and POSTs the PNG to
/// `/predict` of a server that requires a token: with `--cors-origin` naming the page's origin,
/// Chromium's preflight is granted and the page reads the answer; without it, the browser blocks
/// the call (the page sees a network error, not the answer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_another_origin_calls_predict_only_where_cors_allows_it() {
    if skip_browser() {
        return;
    }
    const TOKEN: &str = "page-token-0123456789abcdef";
    let dir = tempfile::tempdir().unwrap();
    let model = crate::serve::model_file(dir.path(), 21);
    let page_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", page_listener.local_addr().unwrap());
    let html = r#"<!doctype html><canvas id="c" width="28" height="28"></canvas><script>
async function predict(url, token) {
  const c = document.getElementById('c'), g = c.getContext('2d');
  g.fillStyle = 'white'; g.fillRect(0, 0, 28, 28); g.fillStyle = 'black'; g.fillRect(12, 4, 4, 20);
  const png = await new Promise(done => c.toBlob(done, 'image/png'));
  try {
    const r = await fetch(url + '/predict?k=3', {method: 'POST', body: png,
      headers: {'content-type': 'image/png', 'authorization': 'Bearer ' + token}});
    return 'status ' + r.status + ' ' + JSON.stringify(await r.json());
  } catch (e) { return 'blocked: ' + e.name; }
}
</script>"#;
    let page = axum::Router::new().route("/", axum::routing::get(move || async move { axum::response::Html(html) }));
    tokio::spawn(async move { axum::serve(page_listener, page).await.unwrap() });
    let api = |cors: Vec<String>| {
        let mut cfg = ServeConfig::new(model.clone());
        cfg.engine = emnist_runtime::EngineKind::Tract;
        cfg.cors_origins = cors;
        cfg.tokens = Some(emnist_serve::server::access::Tokens::parse(TOKEN).unwrap());
        cfg
    };
    let allowed = serve_config(api(vec![origin.clone()])).await;
    let closed = serve_config(api(vec![])).await;

    let driver = Driver::start();
    let c = browser(&driver, &dir.path().join("profile")).await;
    c.goto(&origin).await.unwrap();
    let call = |url: String, token: &'static str| {
        let c = c.clone();
        async move {
            let args = vec![json!(url), json!(token)];
            let v = c.execute_async("const [u, t, done] = arguments; predict(u, t).then(done);", args).await.unwrap();
            v.as_str().unwrap().to_string()
        }
    };
    let ok = call(allowed.clone(), TOKEN).await;
    assert!(ok.starts_with("status 200 ["), "{ok}");
    let top: Value = serde_json::from_str(ok.trim_start_matches("status 200 ")).unwrap();
    assert_eq!(predictions(&top).len(), 3, "{ok}");
    let refused = call(allowed, "wrong-token-0123456789ab").await;
    assert!(refused.starts_with("status 401 ") && refused.contains("bearer token"), "{refused}");
    let blocked = call(closed, TOKEN).await;
    assert!(blocked.starts_with("blocked: TypeError"), "{blocked}");
    c.close().await.unwrap();
}

/// The server in this process, configured, on a real socket; returns its base URL.
async fn serve_config(cfg: ServeConfig) -> String {
    let model = emnist_runtime::ServedModel::load(&cfg.model, &Default::default()).unwrap();
    let app = router(AppState::new(model, &cfg).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}
