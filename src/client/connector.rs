//! `tidegate connector create|list|status|pause|resume|stop|restart|offsets|delete`: manage
//! connectors through the server's Kafka Connect API (`/connectors…`).

use std::path::PathBuf;
use std::time::Duration;

use super::*;

/// Stop, delete and offset changes wait until the connector's task is down.
const LIFECYCLE_TIMEOUT: Duration = Duration::from_secs(120);

/// `tidegate connector …` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ConnectorCommand {
    /// Create a connector (or, with `--update`, create or update its config live).
    Create {
        /// Connector name.
        name: String,
        /// Config entries `key=value` (repeatable), e.g. `connector.class=http-sink`.
        #[arg(long = "config", short = 'c', value_name = "KEY=VALUE")]
        config: Vec<String>,
        /// A JSON file with the config: a map of strings, or Connect's `{"name", "config"}`.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Update the connector if it exists (`PUT /connectors/{name}/config`).
        #[arg(long)]
        update: bool,
    },
    /// List connectors with their state.
    List,
    /// Show a connector's and its task's state, counters and failure trace.
    Status {
        /// Connector name.
        name: String,
    },
    /// Pause a connector.
    Pause {
        /// Connector name.
        name: String,
    },
    /// Resume a paused, stopped or failed connector.
    Resume {
        /// Connector name.
        name: String,
    },
    /// Stop a connector (its task shuts down; offsets can then be changed).
    Stop {
        /// Connector name.
        name: String,
    },
    /// Restart a connector's task.
    Restart {
        /// Connector name.
        name: String,
        /// Restart only if the task failed.
        #[arg(long)]
        only_failed: bool,
    },
    /// Print a connector's committed offsets; or, on a stopped connector, reset them or set
    /// them from KIP-875 JSON (`{"offsets": [{"partition": …, "offset": …}]}`).
    Offsets {
        /// Connector name.
        name: String,
        /// Reset the offsets (the next start begins afresh).
        #[arg(long, conflicts_with = "set")]
        reset: bool,
        /// Alter the offsets to this JSON (inline, or `@file`).
        #[arg(long, value_name = "JSON")]
        set: Option<String>,
    },
    /// Delete a connector with its offsets (returns once its task has stopped).
    Delete {
        /// Connector name.
        name: String,
    },
}

fn config_map(config: &[String], file: Option<&PathBuf>) -> Result<serde_json::Map<String, Value>> {
    let mut map = serde_json::Map::new();
    if let Some(file) = file {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let value: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", file.display()))?;
        let inner = value.get("config").cloned().unwrap_or(value);
        let Value::Object(entries) = inner else {
            bail!(
                "{} must hold a JSON object of config entries",
                file.display()
            );
        };
        map.extend(entries);
    }
    for entry in config {
        let (key, value) = entry
            .split_once('=')
            .ok_or_else(|| anyhow!("--config {entry}: use key=value"))?;
        map.insert(key.trim().to_owned(), Value::String(value.to_owned()));
    }
    Ok(map)
}

fn state_line(status: &Value) -> String {
    let task = &status["tasks"][0];
    let mut line = format!(
        "{}  {}  connector={}",
        status["name"].as_str().unwrap_or("?"),
        status["type"].as_str().unwrap_or("?"),
        status["connector"]["state"].as_str().unwrap_or("?"),
    );
    if let Some(state) = task["state"].as_str() {
        line.push_str(&format!("  task={state}"));
    }
    let t = &status["tidegate"];
    line.push_str(&format!(
        "  records={} retries={} dead_letters={}",
        t["records"], t["retries"], t["dead_letters"]
    ));
    line
}

/// Runs a `tidegate connector` subcommand.
pub async fn connector(server: &str, cmd: ConnectorCommand) -> Result<()> {
    let api = Api::new(server)?;
    let path = |name: &str, rest: &str| format!("/connectors/{}{rest}", seg(name));
    match cmd {
        ConnectorCommand::Create {
            name,
            config,
            file,
            update,
        } => {
            let config = Value::Object(config_map(&config, file.as_ref())?);
            let info = if update {
                api.call(Method::PUT, &path(&name, "/config"), Some(&config))
                    .await?
            } else {
                let body = json!({"name": name, "config": config});
                api.call(Method::POST, "/connectors", Some(&body)).await?
            }
            .unwrap_or(Value::Null);
            println!(
                "connector {name}: {} ({})",
                if update { "stored" } else { "created" },
                info["type"].as_str().unwrap_or("?")
            );
        }
        ConnectorCommand::List => {
            let all: Value = api
                .call_json(Method::GET, "/connectors?expand=status", None)
                .await?;
            let mut out = std::io::stdout().lock();
            if let Value::Object(map) = all {
                for (_, entry) in map {
                    if !write_line(&mut out, &state_line(&entry["status"]))? {
                        return Ok(());
                    }
                }
            }
        }
        ConnectorCommand::Status { name } => {
            let status: Value = api
                .call_json(Method::GET, &path(&name, "/status"), None)
                .await?;
            println!("{}", state_line(&status));
            if let Some(trace) = status["tasks"][0]["trace"].as_str() {
                println!("trace: {trace}");
            }
            if let Some(error) = status["tidegate"]["last_error"].as_str() {
                println!("last error: {error}");
            }
        }
        ConnectorCommand::Pause { name } => {
            api.call(Method::PUT, &path(&name, "/pause"), None).await?;
            println!("connector {name}: pausing");
        }
        ConnectorCommand::Resume { name } => {
            api.call(Method::PUT, &path(&name, "/resume"), None).await?;
            println!("connector {name}: resuming");
        }
        ConnectorCommand::Stop { name } => {
            api.call_with_timeout(Method::PUT, &path(&name, "/stop"), None, LIFECYCLE_TIMEOUT)
                .await?;
            println!("connector {name}: stopped");
        }
        ConnectorCommand::Restart { name, only_failed } => {
            let query = if only_failed { "?onlyFailed=true" } else { "" };
            api.call(
                Method::POST,
                &path(&name, &format!("/restart{query}")),
                None,
            )
            .await?;
            println!("connector {name}: restarting");
        }
        ConnectorCommand::Offsets { name, reset, set } => {
            let offsets_path = path(&name, "/offsets");
            if reset {
                api.call_with_timeout(Method::DELETE, &offsets_path, None, LIFECYCLE_TIMEOUT)
                    .await?;
                println!("connector {name}: offsets reset");
            } else if let Some(set) = set {
                let text = match set.strip_prefix('@') {
                    Some(file) => {
                        std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?
                    }
                    None => set,
                };
                let body: Value = serde_json::from_str(&text).context("--set is not JSON")?;
                api.call_with_timeout(Method::PATCH, &offsets_path, Some(&body), LIFECYCLE_TIMEOUT)
                    .await?;
                println!("connector {name}: offsets altered");
            } else {
                let offsets: Value = api.call_json(Method::GET, &offsets_path, None).await?;
                println!("{}", serde_json::to_string_pretty(&offsets)?);
            }
        }
        ConnectorCommand::Delete { name } => {
            api.call_with_timeout(Method::DELETE, &path(&name, ""), None, LIFECYCLE_TIMEOUT)
                .await?;
            println!("connector {name}: deleted");
        }
    }
    Ok(())
}
