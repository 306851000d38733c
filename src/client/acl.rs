//! `tidegate acl add|list|remove`: ACLs, through `/v1/acls` (the caller needs the admin token
//! or Alter on the cluster).

use anyhow::Result;
use clap::{Args, Subcommand};
use hyper::Method;
use serde_json::{Value, json};

use super::Api;

/// ACL commands.
#[derive(Subcommand)]
pub enum AclCommand {
    /// Add an ACL.
    Add(AclArgs),
    /// List every ACL.
    List,
    /// Remove an ACL (give the same fields it was added with).
    Remove(AclArgs),
}

/// One ACL's fields.
#[derive(Args)]
pub struct AclArgs {
    /// `User:<name>`, `Group:<name>` or `User:*`.
    #[arg(long)]
    principal: String,
    /// topic, group, subject, plugin, transform, connector or cluster.
    #[arg(long)]
    resource_type: String,
    /// The resource name (`*` with literal: all).
    #[arg(long)]
    resource_name: String,
    /// literal or prefixed.
    #[arg(long, default_value = "literal")]
    pattern_type: String,
    /// read, write, create, delete, alter, describe or all.
    #[arg(long)]
    operation: String,
    /// allow or deny.
    #[arg(long, default_value = "allow")]
    permission: String,
}

impl AclArgs {
    fn body(&self) -> Value {
        json!({
            "principal": self.principal,
            "resource_type": self.resource_type.to_ascii_lowercase(),
            "resource_name": self.resource_name,
            "pattern_type": self.pattern_type.to_ascii_lowercase(),
            "operation": self.operation.to_ascii_lowercase(),
            "permission": self.permission.to_ascii_lowercase(),
        })
    }
}

/// Runs one ACL command against `server`.
///
/// # Errors
/// Transport failures and error answers.
pub async fn acl(server: &str, cmd: AclCommand) -> Result<()> {
    let api = Api::new(server)?;
    match cmd {
        AclCommand::Add(args) => {
            api.call(Method::POST, "/v1/acls", Some(&args.body()))
                .await?;
        }
        AclCommand::Remove(args) => {
            let removed = api
                .call(Method::DELETE, "/v1/acls", Some(&args.body()))
                .await?
                .unwrap_or(Value::Null);
            eprintln!("removed {}", removed["removed"]);
        }
        AclCommand::List => {
            let listed = api.call(Method::GET, "/v1/acls", None).await?;
            let acls = listed
                .as_ref()
                .and_then(|v| v["acls"].as_array().cloned())
                .unwrap_or_default();
            for a in acls {
                let s = |k: &str| a[k].as_str().unwrap_or_default().to_owned();
                println!(
                    "{}\t{}\t{} {}:{}\t{}",
                    s("permission"),
                    s("principal"),
                    s("operation"),
                    s("resource_type"),
                    s("resource_name"),
                    s("pattern_type")
                );
            }
        }
    }
    Ok(())
}
