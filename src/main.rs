//! The `tidegate` binary: `serve` runs the gateway; the other subcommands are HTTP clients of a
//! running server. `anyhow` is used only here, at the binary's edge.

mod client;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc keeps freed memory for reuse: fetch answers of tens of MiB otherwise go back to
/// the kernel after each request with glibc's allocator, and every next one page-faults afresh.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tidegate::config::{Config, ServeArgs};

/// Tidegate: a WebAssembly-extensible event gateway with a durable, partitioned log.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Server the client subcommands talk to.
    #[arg(
        long,
        global = true,
        env = "TIDEGATE_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    server: String,
    /// API key (or admin token) the client subcommands send as `Authorization: Bearer`.
    #[arg(long, global = true, env = "TIDEGATE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// CA certificates (PEM) an https:// server's certificate must chain to (default: the
    /// Mozilla roots).
    #[arg(long, global = true, env = "TIDEGATE_CA")]
    ca: Option<std::path::PathBuf>,
    /// Client certificate (PEM) for servers that ask for one (mutual TLS); needs `--key`.
    #[arg(long, global = true, env = "TIDEGATE_CERT")]
    cert: Option<std::path::PathBuf>,
    /// The private key (PEM) of `--cert`.
    #[arg(long, global = true, env = "TIDEGATE_KEY")]
    key: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve(Box<ServeArgs>),
    /// Manage topics.
    #[command(subcommand)]
    Topic(client::TopicCommand),
    /// Manage WebAssembly plugins.
    #[command(subcommand)]
    Plugin(client::PluginCommand),
    /// Manage connectors (Kafka Connect's API).
    #[command(subcommand)]
    Connector(client::ConnectorCommand),
    /// Internal: precompile a plugin read from stdin under a memory cap, artifact to stdout
    /// (the gateway runs this in a child process for every upload).
    #[command(hide = true)]
    PluginCompile {
        /// Address-space cap, in bytes.
        #[arg(long)]
        max_memory_bytes: u64,
    },
    /// Manage authentication (API keys).
    #[command(subcommand)]
    Auth(client::AuthCommand),
    /// Manage ACLs.
    #[command(subcommand)]
    Acl(client::AclCommand),
    /// Produce one record per stdin line.
    Produce(client::ProduceArgs),
    /// Print records of a topic, one per line.
    Consume(client::ConsumeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The plugin compiler child runs under an address-space cap: no async runtime, whose worker
    // threads (stacks, allocator heaps) would take part of the cap before compiling starts.
    if let Command::PluginCompile { max_memory_bytes } = cli.command {
        return match plugin_compile(max_memory_bytes) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    client::set_token(cli.token.clone());
    client::set_tls(client::TlsFiles {
        ca: cli.ca.clone(),
        cert: cli.cert.clone(),
        key: cli.key.clone(),
    });
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(&args).await,
            Command::Topic(cmd) => client::topic(&cli.server, cmd).await,
            Command::Plugin(cmd) => client::plugin(&cli.server, cmd).await,
            Command::Connector(cmd) => client::connector(&cli.server, cmd).await,
            Command::Auth(cmd) => client::auth(&cli.server, cmd).await,
            Command::Acl(cmd) => client::acl(&cli.server, cmd).await,
            Command::PluginCompile { .. } => Ok(()),
            Command::Produce(args) => client::produce(&cli.server, args).await,
            Command::Consume(args) => client::consume(&cli.server, args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: &ServeArgs) -> anyhow::Result<()> {
    tidegate::telemetry::init();
    let config = Config::load(args)?;
    tidegate::gateway::run(config, tidegate::shutdown::signal()).await?;
    Ok(())
}

/// The child side of isolated plugin compilation: stdin → capped precompile → stdout.
fn plugin_compile(max_memory_bytes: u64) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let mut wasm = Vec::new();
    std::io::stdin().read_to_end(&mut wasm)?;
    let artifact = tidegate::plugin::precompile_capped(&wasm, max_memory_bytes)?;
    std::io::stdout().write_all(&artifact)?;
    Ok(())
}
