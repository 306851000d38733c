//! `tidegate plugin upload|list|delete`: manage WebAssembly plugins.

use std::path::PathBuf;

use super::*;

/// `tidegate plugin …` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum PluginCommand {
    /// Upload a WebAssembly component (built for wasm32-wasip2 against `wit/`).
    Upload {
        /// Name to store it under.
        name: String,
        /// The `.wasm` component file.
        file: PathBuf,
    },
    /// List plugins: name, world, size, digest.
    List,
    /// Delete a plugin (refused while a transform uses it).
    Delete {
        /// Plugin name.
        name: String,
    },
}

/// Runs a `tidegate plugin` subcommand.
pub async fn plugin(server: &str, cmd: PluginCommand) -> Result<()> {
    let api = Api::new(server)?;
    match cmd {
        PluginCommand::Upload { name, file } => {
            let wasm =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let path = format!("/v1/plugins/{}", seg(&name));
            let body = Some((Bytes::from(wasm), "application/wasm"));
            let stored = api
                .send(Method::PUT, &path, body, REQUEST_TIMEOUT)
                .await?
                .unwrap_or(Value::Null);
            println!(
                "uploaded plugin {name}: world {} digest {} ({} bytes)",
                stored["world"].as_str().unwrap_or("?"),
                stored["digest"].as_str().unwrap_or("?"),
                stored["size"]
            );
        }
        PluginCommand::List => {
            let plugins: Vec<Value> = api.call_json(Method::GET, "/v1/plugins", None).await?;
            let mut out = std::io::stdout().lock();
            for p in &plugins {
                let line = format!(
                    "{}  world={}  size={}  {}",
                    p["name"].as_str().unwrap_or("?"),
                    p["world"].as_str().unwrap_or("?"),
                    p["size"],
                    p["digest"].as_str().unwrap_or("?")
                );
                if !write_line(&mut out, &line)? {
                    return Ok(());
                }
            }
            finish_stdout(&mut out)?;
        }
        PluginCommand::Delete { name } => {
            api.call(Method::DELETE, &format!("/v1/plugins/{}", seg(&name)), None)
                .await?;
            println!("deleted plugin {name}");
        }
    }
    Ok(())
}
