//! `egret-gateway`: the gateway on its own, in front of services that run as processes of
//! their own. `egret up` runs a gateway in front of its services by itself.

use std::path::PathBuf;

use clap::Parser;

/// Runs the Egret gateway.
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
    let config: egret_gateway::GatewayConfig =
        egret_runtime::config::load(args.config.as_deref(), &[])?;
    egret_gateway::serve_alone(&config, egret_runtime::shutdown_on_signals()).await
}
