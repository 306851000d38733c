//! `tidegate auth key create|list|revoke`: API keys, through the admin endpoints (the caller
//! needs the admin token in `--token`). The created key is printed once; keep it.

use anyhow::Result;
use clap::Subcommand;
use hyper::Method;
use serde_json::{Value, json};

use super::{Api, seg};

/// Authentication commands.
#[derive(Subcommand)]
pub enum AuthCommand {
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
}

/// API key commands.
#[derive(Subcommand)]
pub enum KeyCommand {
    /// Create a key for a principal and print it (shown only this once).
    Create {
        /// The principal the key proves.
        #[arg(long)]
        principal: String,
        /// Free text kept with the key.
        #[arg(long, default_value = "")]
        description: String,
        /// Lifetime in milliseconds (none: never expires).
        #[arg(long)]
        expires_in_ms: Option<i64>,
    },
    /// List keys (ids, principals, expiry; never secrets).
    List,
    /// Revoke a key by id.
    Revoke {
        /// The key's id (the part before the dot).
        id: String,
    },
}

/// Runs one auth command against `server`.
///
/// # Errors
/// Transport failures and error answers.
pub async fn auth(server: &str, cmd: AuthCommand) -> Result<()> {
    let api = Api::new(server)?;
    let AuthCommand::Key(cmd) = cmd;
    match cmd {
        KeyCommand::Create {
            principal,
            description,
            expires_in_ms,
        } => {
            let mut body = json!({"principal": principal, "description": description});
            if let Some(ms) = expires_in_ms {
                body["expires_in_ms"] = json!(ms);
            }
            let created = api
                .call(Method::POST, "/v1/auth/keys", Some(&body))
                .await?
                .unwrap_or(Value::Null);
            println!("{}", created["key"].as_str().unwrap_or_default());
            eprintln!(
                "key {} for {} (shown once; pass it as --token or TIDEGATE_TOKEN)",
                created["id"].as_str().unwrap_or_default(),
                created["principal"].as_str().unwrap_or_default()
            );
        }
        KeyCommand::List => {
            let listed = api.call(Method::GET, "/v1/auth/keys", None).await?;
            let keys = listed
                .as_ref()
                .and_then(|v| v["keys"].as_array().cloned())
                .unwrap_or_default();
            for k in keys {
                let expires = k["expires_ms"]
                    .as_i64()
                    .map_or_else(|| "never".to_owned(), |ms| ms.to_string());
                println!(
                    "{}\t{}\texpires={expires}\t{}",
                    k["id"].as_str().unwrap_or_default(),
                    k["principal"].as_str().unwrap_or_default(),
                    k["description"].as_str().unwrap_or_default()
                );
            }
        }
        KeyCommand::Revoke { id } => {
            api.call(Method::DELETE, &format!("/v1/auth/keys/{}", seg(&id)), None)
                .await?;
            eprintln!("revoked {id}");
        }
    }
    Ok(())
}
