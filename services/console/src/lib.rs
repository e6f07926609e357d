//! The web console of Egret (管理平台): pages in Chinese for the federation's staff, the
//! district officers, team leaders and volunteers, served by the gateway on the instance's
//! own address beside gRPC.
//!
//! How it is built, and why:
//! - **Server-rendered pages.** [askama] templates, compiled into the binary and escaped
//!   by default; [htmx] (vendored under `assets/vendor` with its licence) swaps parts of a
//!   page for searches and refreshes. A page works without script too. No Node toolchain
//!   is needed to build or run it.
//! - **No superuser.** Every page calls the services over gRPC with the signed-in person's
//!   own access token, through the gateway's in-process stack, so each subtree and role
//!   rule holds exactly as on the API: the console decides nothing about who may see what.
//!   Each call carries the browser's address, so sign-in throttling counts per person's
//!   address, not per console.
//! - **Sessions** live in this process's memory ([`session`]): an HttpOnly,
//!   SameSite=Strict cookie holds a random session id; the tokens never reach the
//!   browser. A restart signs everyone out. The access token is refreshed under the
//!   session's lock, so two requests at once never spend the same refresh token twice
//!   (which the gateway would take for a stolen token and end the sign-in).
//! - **Long exports** (导出) run as jobs of this process (`export_jobs`): a task calls
//!   the export with the person's own token and spools the file into an anonymous
//!   temporary file, while the page's progress bar follows the rows the reporting service
//!   reports; then the file is downloaded from there. Jobs are bounded (running per person
//!   and in all, kept, file size) and a finished one is dropped after 30 minutes; a restart
//!   ends them with the sessions.
//! - **Forms** carry a CSRF token (the session's, or before sign-in a double-submit
//!   cookie), and a cross-site `Origin` or `Sec-Fetch-Site` is refused.
//! - **Headers.** A Content-Security-Policy with no inline script or style, no framing,
//!   no referrer to other sites, and `no-store` on every page, so personal data is not cached.
//! - **No personal data in URLs.** Searches by name post their text; links carry only
//!   opaque resource ids.
//!
//! [askama]: https://docs.rs/askama
//! [htmx]: https://htmx.org

pub mod api;
mod assets;
mod export_jobs;
mod labels;
mod pages;
mod security;
pub mod session;

use std::sync::Arc;
use std::time::Duration;

use egret_runtime::{ConfigError, Fallback, Validate};
use serde::Deserialize;
use tower::ServiceExt;

pub use api::Api;

/// `[gateway.console]`: the web console.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ConsoleSettings {
    /// Whether the gateway serves the console on its address.
    pub enabled: bool,
    /// Mark cookies `Secure` (and name the session cookie `__Host-…`): set it when the
    /// console is reached over TLS, through a terminating proxy.
    pub secure_cookies: bool,
    /// Sign-ins held at once; the least recently used is ended beyond it.
    pub max_sessions: usize,
    /// A sign-in unused this long ends.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// The deadline of each call a page makes to a service.
    #[serde(with = "humantime_serde")]
    pub call_timeout: Duration,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            secure_cookies: false,
            max_sessions: 10_000,
            idle_timeout: Duration::from_secs(8 * 3600),
            call_timeout: Duration::from_secs(15),
        }
    }
}

impl Validate for ConsoleSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=1_000_000).contains(&self.max_sessions) {
            return Err(ConfigError::invalid(
                "gateway.console.max_sessions",
                "must be between 1 and 1000000",
            ));
        }
        if !(Duration::from_secs(60)..=Duration::from_secs(30 * 24 * 3600))
            .contains(&self.idle_timeout)
        {
            return Err(ConfigError::invalid(
                "gateway.console.idle_timeout",
                "must be between 1m and 30 days",
            ));
        }
        if !(Duration::from_secs(1)..=Duration::from_secs(300)).contains(&self.call_timeout) {
            return Err(ConfigError::invalid(
                "gateway.console.call_timeout",
                "must be between 1s and 5m",
            ));
        }
        Ok(())
    }
}

/// What every page handler shares.
#[derive(Clone)]
struct AppState(Arc<Shared>);

struct Shared {
    api: Api,
    sessions: session::Sessions,
    exports: export_jobs::ExportJobs,
    settings: ConsoleSettings,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The console's pages as one service, for [`egret_runtime::ServiceHost::serve_web`]:
/// `api` is the host's own in-process stack, which every page calls.
pub fn service(settings: &ConsoleSettings, api: Fallback) -> Fallback {
    let state = AppState(Arc::new(Shared {
        api: Api::new(api, settings.call_timeout),
        sessions: session::Sessions::new(settings.max_sessions, settings.idle_timeout),
        exports: export_jobs::ExportJobs::new(export_jobs::Limits::default()),
        settings: settings.clone(),
    }));
    let router = pages::router(state);
    Fallback::new(
        ServiceExt::<http::Request<tonic::body::Body>>::map_response(router, |response| {
            response.map(tonic::body::Body::new)
        }),
    )
}
