//! `egret`: see `egret --help`.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    egret_gateway::run(egret_gateway::Cli::parse()).await
}
