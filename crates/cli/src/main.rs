//! `egret`: see `egret --help`.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    egret_cli::run(egret_cli::Cli::parse()).await
}
