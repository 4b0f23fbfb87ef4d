//! Headless Chromium for the web UI's browser tests: Debian's `chromedriver` on a free loopback
//! port (killed on drop, its log kept under `target/e2e-logs/`), and a WebDriver session through
//! fantoccini with a throwaway profile, no background traffic, and no name resolving outside
//! loopback. Every wait is bounded, so a browser that cannot start fails the test with the
//! driver's log instead of hanging it.

use std::future::Future;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::cluster::workspace_root;
use crate::http::free_addr;

/// The longest any single browser step may take.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Chromium's switches: headless, a fixed 1280×720 window, nothing that phones home, and every
/// host name but `localhost` and `127.0.0.1` unresolvable (the rules apply to IP literals too).
const CHROMIUM_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-proxy-server",
    "--window-size=1280,720",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
];

/// A running `chromedriver` in a process group of its own, which the Chromium it starts joins:
/// the whole group is killed on drop, so a failed test leaves no browser behind. Its log is
/// printed when a test panics.
struct Driver {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Driver {
    fn start(log_name: &str) -> anyhow::Result<Self> {
        let logs = workspace_root().join("target/e2e-logs");
        std::fs::create_dir_all(&logs)?;
        let log = logs.join(format!("{log_name}-chromedriver.log"));
        let output = std::fs::File::create(logs.join(format!("{log_name}-chromedriver.out")))?;
        let port = free_addr().port();
        let child = Command::new(CHROMEDRIVER)
            .process_group(0)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .args(["--log-level=INFO", "--enable-chrome-logs"])
            .stdin(Stdio::null())
            .stdout(output.try_clone()?)
            .stderr(output)
            .spawn()
            .map_err(|e| anyhow::anyhow!("starting {CHROMEDRIVER}: {e}"))?;
        Ok(Self { child, url: format!("http://127.0.0.1:{port}"), log })
    }

    /// Waits until the driver answers `/status`, or fails with its log if it exits or stays silent.
    async fn ready(&mut self) -> anyhow::Result<()> {
        let status = format!("{}/status", self.url);
        let http = crate::ui::http_client();
        let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
        loop {
            if let Some(exit) = self.child.try_wait()? {
                anyhow::bail!("chromedriver exited with {exit} before answering\n{}", self.log_tail(40));
            }
            let answer = http.get(&status).timeout(Duration::from_secs(2)).send().await;
            if answer.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                anyhow::bail!("chromedriver did not answer {status} in {STEP_TIMEOUT:?}\n{}", self.log_tail(40));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(lines).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!("--- chromedriver log ({}) ---\n{}", self.log.display(), tail.join("\n"))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Ok(group) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) with a negative pid signals that process group; no memory is involved.
            unsafe { libc::kill(-group, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("{}", self.log_tail(40));
        }
    }
}

/// A headless Chromium session driven over WebDriver; its `chromedriver` is killed on drop.
pub struct Browser {
    /// The WebDriver session.
    pub client: Client,
    driver: Driver,
    _profile: TempDir,
}

impl Browser {
    /// Starts `chromedriver` and a Chromium session; fails within [`STEP_TIMEOUT`] each, with the
    /// driver's log, if either does not come up.
    pub async fn start(log_name: &str) -> anyhow::Result<Self> {
        Self::start_with_args(log_name, &[]).await
    }

    /// Like [`Browser::start`], with extra Chromium `args` (e.g. a TLS key to trust).
    pub async fn start_with_args(log_name: &str, extra_args: &[String]) -> anyhow::Result<Self> {
        for binary in [CHROMIUM, CHROMEDRIVER] {
            anyhow::ensure!(
                Path::new(binary).is_file(),
                "{binary} is missing: `cargo xtask test` installs it (Debian packages chromium and chromium-driver), \
                 or run: apt-get install -y --no-install-recommends chromium chromium-driver"
            );
        }
        let mut driver = Driver::start(log_name)?;
        driver.ready().await?;
        let profile = tempfile::Builder::new().prefix("lockstep-chromium-").tempdir()?;
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.extend(extra_args.iter().cloned());
        let capabilities = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "timeouts": {"script": 30_000, "pageLoad": 30_000, "implicit": 0},
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
            "goog:loggingPrefs": {"performance": "ALL"},
        });
        let Value::Object(capabilities) = capabilities else { anyhow::bail!("capabilities are a JSON object") };
        let mut builder = ClientBuilder::new(HttpConnector::new());
        let connecting = builder.capabilities(capabilities).connect(&driver.url);
        let client = match tokio::time::timeout(STEP_TIMEOUT, connecting).await {
            Ok(Ok(client)) => client,
            Ok(Err(err)) => anyhow::bail!("Chromium did not start: {err}\n{}", driver.log_tail(40)),
            Err(_) => anyhow::bail!("Chromium did not start in {STEP_TIMEOUT:?}\n{}", driver.log_tail(40)),
        };
        Ok(Self { client, driver, _profile: profile })
    }

    /// Loads `url` and waits (at most [`STEP_TIMEOUT`]) for the page to finish loading.
    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.bounded(&format!("loading {url}"), self.client.goto(url)).await
    }

    /// Waits (at most [`STEP_TIMEOUT`]) for an element matching `css`.
    pub async fn find(&self, css: &str) -> anyhow::Result<fantoccini::elements::Element> {
        let waiting = self.client.wait().at_most(STEP_TIMEOUT).for_element(Locator::Css(css));
        waiting.await.map_err(|err| anyhow::anyhow!("no element {css:?} in {STEP_TIMEOUT:?}: {err}"))
    }

    /// Waits (at most [`STEP_TIMEOUT`]) until `script`'s value satisfies `done`; returns it, or
    /// fails with the last value seen.
    pub async fn wait_script(&self, what: &str, script: &str, done: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
        let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
        loop {
            let value = self.script(script).await?;
            if done(&value) {
                return Ok(value);
            }
            if tokio::time::Instant::now() > deadline {
                anyhow::bail!("timed out after {STEP_TIMEOUT:?} waiting for {what}; last saw {value}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Runs `script` (a function body; `return` gives the value) in the page.
    pub async fn script(&self, script: &str) -> anyhow::Result<Value> {
        self.bounded(&format!("running {script:?}"), self.client.execute(script, vec![])).await
    }

    /// Runs `script` with a callback as its last argument (`arguments[0]`), for promises.
    pub async fn script_async(&self, script: &str) -> anyhow::Result<Value> {
        self.bounded(&format!("running {script:?}"), self.client.execute_async(script, vec![])).await
    }

    /// Saves a PNG screenshot of the window as `target/e2e-artifacts/<name>`; returns its path.
    pub async fn screenshot(&self, name: &str) -> anyhow::Result<PathBuf> {
        let png = self.bounded("taking a screenshot", self.client.screenshot()).await?;
        anyhow::ensure!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
        let dir = workspace_root().join("target/e2e-artifacts");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(name);
        std::fs::write(&path, png)?;
        Ok(path)
    }

    /// Every URL the pages asked for since the last call (Chromium's DevTools network log, read
    /// through chromedriver: navigations, scripts, styles, fetches and event streams alike).
    pub async fn requested_urls(&self) -> anyhow::Result<Vec<String>> {
        let session = self.bounded("reading the session id", self.client.session_id()).await?;
        let session = session.ok_or_else(|| anyhow::anyhow!("the WebDriver session has no id"))?;
        let url = format!("{}/session/{session}/se/log", self.driver.url);
        let answer = crate::ui::http_client()
            .post(url)
            .header("content-type", "application/json")
            .body(json!({"type": "performance"}).to_string())
            .timeout(STEP_TIMEOUT)
            .send()
            .await?
            .text()
            .await?;
        let answer: Value = serde_json::from_str(&answer)?;
        let entries = answer["value"].as_array().cloned().unwrap_or_default();
        let mut urls = Vec::new();
        for entry in entries {
            let message: Value = serde_json::from_str(entry["message"].as_str().unwrap_or("{}"))?;
            let message = &message["message"];
            if message["method"] == "Network.requestWillBeSent"
                && let Some(url) = message["params"]["request"]["url"].as_str()
            {
                urls.push(url.to_string());
            }
        }
        Ok(urls)
    }

    async fn bounded<T, E: std::fmt::Display>(
        &self,
        what: &str,
        step: impl Future<Output = Result<T, E>>,
    ) -> anyhow::Result<T> {
        match tokio::time::timeout(STEP_TIMEOUT, step).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => anyhow::bail!("{what}: {err}"),
            Err(_) => anyhow::bail!("{what}: no answer in {STEP_TIMEOUT:?}\n{}", self.driver.log_tail(20)),
        }
    }

    /// Ends the WebDriver session (Chromium exits); the driver stops on drop.
    pub async fn close(self) -> anyhow::Result<()> {
        let client = self.client.clone();
        self.bounded("closing the browser", client.close()).await
    }
}
