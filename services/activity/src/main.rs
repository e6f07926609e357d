//! `egret-activity`: the activity service on its own, for deployments that run each
//! service separately. Most installations run `egret up` instead.

use std::path::PathBuf;

use clap::Parser;

/// Runs the Egret activity service.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// A TOML configuration file; `EGRET__…` environment variables override it.
    #[arg(long, short)]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config: egret_activity::Config = egret_runtime::config::load(args.config.as_deref(), &[])?;
    egret_runtime::assembly::serve_alone::<egret_activity::Activity>(
        &config.common,
        &config.activity,
        egret_runtime::shutdown_on_signals(),
    )
    .await
}
