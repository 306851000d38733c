//! placeholder until the client lands
use clap::{Args, Subcommand};
#[derive(Subcommand)] pub enum TopicCommand { List }
#[derive(Args)] pub struct ProduceArgs { topic: String }
#[derive(Args)] pub struct ConsumeArgs { topic: String }
pub async fn topic(_s: &str, _c: TopicCommand) -> anyhow::Result<()> { anyhow::bail!("todo") }
pub async fn produce(_s: &str, _c: ProduceArgs) -> anyhow::Result<()> { anyhow::bail!("todo") }
pub async fn consume(_s: &str, _c: ConsumeArgs) -> anyhow::Result<()> { anyhow::bail!("todo") }
