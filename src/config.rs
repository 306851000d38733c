//! Server configuration: TOML file < `TIDEGATE_*` environment < command-line flags, validated
//! as a whole so every problem is reported at once with its field name.
//!
//! This module only parses and checks; it builds nothing and opens no files but the TOML.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::log::FsyncPolicy;

/// `tidegate serve` settings: flags, their `TIDEGATE_*` environment variables (through clap)
/// and the keys of the TOML file (through serde, same names with `_`) are one struct, so a
/// setting is declared once and layered flag > env > file > default by [`Config::load`].
#[derive(Debug, Clone, Default, clap::Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "TIDEGATE_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// Directory holding the log and the plugin cache.
    #[arg(long, env = "TIDEGATE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Storage engine: `file://DIR` (the built-in log; default `file://` + the data dir) or
    /// `memory://` (nothing survives the process).
    #[arg(long, env = "TIDEGATE_STORAGE", value_name = "URL")]
    pub storage: Option<String>,
    /// Demo mode: `memory://` storage and a throw-away data dir for the plugin cache.
    #[arg(long, env = "TIDEGATE_EPHEMERAL", num_args = 0..=1, default_missing_value = "true")]
    pub ephemeral: Option<bool>,
    /// When appends are made durable: `always` (default), `never`, or an interval in ms.
    #[arg(long, env = "TIDEGATE_FSYNC", value_name = "always|never|MS")]
    #[serde(default, deserialize_with = "text_or_number")]
    pub fsync: Option<String>,
    /// A TOML file with any of these settings (flag names with `_` instead of `-`).
    #[arg(long, env = "TIDEGATE_CONFIG", value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Create unknown topics on first produce.
    #[arg(long, env = "TIDEGATE_AUTO_CREATE_TOPICS", num_args = 0..=1, default_missing_value = "true")]
    pub auto_create_topics: Option<bool>,
    /// Partitions of auto-created topics.
    #[arg(long, env = "TIDEGATE_DEFAULT_PARTITIONS")]
    pub default_partitions: Option<u32>,
    /// Largest request body, in bytes.
    #[arg(long, env = "TIDEGATE_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Default segment size, in bytes.
    #[arg(long, env = "TIDEGATE_SEGMENT_BYTES")]
    pub segment_bytes: Option<u64>,
    /// How often retention, compaction and age-based rolls run, in ms.
    #[arg(long, env = "TIDEGATE_MAINTENANCE_INTERVAL_MS")]
    pub maintenance_interval_ms: Option<u64>,
    /// How long shutdown waits for in-flight requests, in ms.
    #[arg(long, env = "TIDEGATE_DRAIN_TIMEOUT_MS")]
    pub drain_timeout_ms: Option<u64>,
    /// How long a client may take to send request headers (and stay idle between requests), ms.
    #[arg(long, env = "TIDEGATE_HEADER_READ_TIMEOUT_MS")]
    pub header_read_timeout_ms: Option<u64>,
    /// Most open connections; further ones wait in the kernel's accept queue.
    #[arg(long, env = "TIDEGATE_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Most records one produce request may carry.
    #[arg(long, env = "TIDEGATE_MAX_RECORDS_PER_REQUEST")]
    pub max_records_per_request: Option<usize>,
    /// Bytes all fetches in flight may reserve together.
    #[arg(long, env = "TIDEGATE_FETCH_BUDGET_BYTES")]
    pub fetch_budget_bytes: Option<usize>,
    /// Address-space cap of the child process that compiles each plugin upload, in bytes.
    #[arg(long, env = "TIDEGATE_PLUGIN_COMPILE_MAX_MEMORY_BYTES")]
    pub plugin_compile_max_memory_bytes: Option<u64>,
    /// Most distinct keys one compaction pass holds in memory (about 40 bytes each).
    #[arg(long, env = "TIDEGATE_COMPACTION_MAP_ENTRIES")]
    pub compaction_map_entries: Option<usize>,
    /// How long a REST Proxy consumer instance lives without requests, in ms.
    #[arg(long, env = "TIDEGATE_CONSUMER_INSTANCE_TIMEOUT_MS")]
    pub consumer_instance_timeout_ms: Option<u64>,
    /// Serve TLS with this certificate chain (PEM); needs `--tls-key`.
    #[arg(long, env = "TIDEGATE_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of `--tls-cert` (PEM).
    #[arg(long, env = "TIDEGATE_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Ask clients for certificates that chain to these CAs (PEM): mutual TLS.
    #[arg(long, env = "TIDEGATE_TLS_CLIENT_CA")]
    pub tls_client_ca: Option<PathBuf>,
    /// Which name of a client certificate is the principal: `cn` (the subject's common name,
    /// the default), or the first `dns`, `email` or `uri` subject alternative name.
    #[arg(long, env = "TIDEGATE_TLS_CLIENT_PRINCIPAL")]
    pub tls_client_principal: Option<String>,
    /// Refuse requests without valid credentials (API key, Basic, admin token).
    #[arg(long, env = "TIDEGATE_AUTH_REQUIRED", num_args = 0..=1, default_missing_value = "true")]
    pub auth_required: Option<bool>,
    /// A static token that authenticates the `admin` superuser (manages API keys).
    #[arg(long, env = "TIDEGATE_AUTH_ADMIN_TOKEN", hide_env_values = true)]
    pub auth_admin_token: Option<String>,
    /// Requests per second each authenticated principal may make (0: unlimited).
    #[arg(long, env = "TIDEGATE_PRINCIPAL_REQUEST_RATE")]
    pub principal_request_rate: Option<u32>,
    /// Requests a principal may make at once above its rate (default: the rate).
    #[arg(long, env = "TIDEGATE_PRINCIPAL_REQUEST_BURST")]
    pub principal_request_burst: Option<u32>,
    /// Request body bytes per second each principal may send (produce and other JSON
    /// bodies; 0: unlimited).
    #[arg(long, env = "TIDEGATE_PRINCIPAL_PRODUCE_BYTES_RATE")]
    pub principal_produce_bytes_rate: Option<u64>,
    /// Fetched record bytes per second each principal may read through fetches and REST Proxy
    /// consumer records (streams are bounded by `--principal-max-streams`; 0: unlimited).
    #[arg(long, env = "TIDEGATE_PRINCIPAL_FETCH_BYTES_RATE")]
    pub principal_fetch_bytes_rate: Option<u64>,
    /// SSE streams and WebSocket subscriptions each principal may hold open (0: unlimited).
    #[arg(long, env = "TIDEGATE_PRINCIPAL_MAX_STREAMS")]
    pub principal_max_streams: Option<u32>,
    /// Connections each principal may hold open, counted for the principal of a connection's
    /// first authenticated request (0: unlimited).
    #[arg(long, env = "TIDEGATE_PRINCIPAL_MAX_CONNECTIONS")]
    pub principal_max_connections: Option<u32>,
    /// Accept OIDC/JWT bearer tokens from this issuer (`iss`); needs the audience and JWKS.
    #[arg(long, env = "TIDEGATE_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// The audience (`aud`) OIDC tokens must be for.
    #[arg(long, env = "TIDEGATE_OIDC_AUDIENCE")]
    pub oidc_audience: Option<String>,
    /// The issuer's signing keys, a JWKS file.
    #[arg(long, env = "TIDEGATE_OIDC_JWKS_FILE")]
    pub oidc_jwks_file: Option<PathBuf>,
    /// Fetch the JWKS from this URL instead (`https://`, or `http://` on loopback); it is
    /// fetched again when older than `--oidc-jwks-refresh-ms` or when a token names an unknown
    /// key id (at most every 30 s).
    #[arg(long, env = "TIDEGATE_OIDC_JWKS_URL")]
    pub oidc_jwks_url: Option<String>,
    /// Age after which a fetched JWKS is fetched again (default 300000, five minutes).
    #[arg(long, env = "TIDEGATE_OIDC_JWKS_REFRESH_MS")]
    pub oidc_jwks_refresh_ms: Option<u64>,
    /// The token claim naming the principal (default `sub`).
    #[arg(long, env = "TIDEGATE_OIDC_PRINCIPAL_CLAIM")]
    pub oidc_principal_claim: Option<String>,
    /// The token claim listing the principal's groups (default `groups`).
    #[arg(long, env = "TIDEGATE_OIDC_GROUPS_CLAIM")]
    pub oidc_groups_claim: Option<String>,
}

/// `fsync = 50` and `fsync = "never"` both read as text, as the flag does.
fn text_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<toml::Value>::deserialize(d)? {
        None => None,
        Some(toml::Value::String(s)) => Some(s),
        Some(other) => Some(other.to_string()),
    })
}

impl ServeArgs {
    /// Each setting from `self` where set, else from `under`. The struct literal names every
    /// field, so a new setting cannot be forgotten here.
    fn over(self, under: ServeArgs) -> ServeArgs {
        macro_rules! layer {
            ($($field:ident),* $(,)?) => {
                ServeArgs { $($field: self.$field.or(under.$field),)* }
            };
        }
        layer!(
            listen,
            data_dir,
            storage,
            ephemeral,
            fsync,
            config,
            auto_create_topics,
            default_partitions,
            max_body_bytes,
            segment_bytes,
            maintenance_interval_ms,
            drain_timeout_ms,
            header_read_timeout_ms,
            max_connections,
            max_records_per_request,
            fetch_budget_bytes,
            plugin_compile_max_memory_bytes,
            compaction_map_entries,
            consumer_instance_timeout_ms,
            tls_cert,
            tls_key,
            tls_client_ca,
            tls_client_principal,
            auth_required,
            auth_admin_token,
            principal_request_rate,
            principal_request_burst,
            principal_produce_bytes_rate,
            principal_fetch_bytes_rate,
            principal_max_streams,
            principal_max_connections,
            oidc_issuer,
            oidc_audience,
            oidc_jwks_file,
            oidc_jwks_url,
            oidc_jwks_refresh_ms,
            oidc_principal_claim,
            oidc_groups_claim,
        )
    }
}

/// Defaults of the embedded zero-config setup.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "./tidegate-data";
/// Default segment size (128 MiB).
pub const DEFAULT_SEGMENT_BYTES: u64 = 128 << 20;

/// Default address-space cap of the plugin compiler process (2 GiB: an 18 MB Python
/// component compiles in well under 1 GiB).
pub const DEFAULT_PLUGIN_COMPILE_MEMORY: u64 = 2 << 30;
/// Smallest accepted cap.
pub const MIN_PLUGIN_COMPILE_MEMORY: u64 = 64 << 20;

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address.
    pub listen: SocketAddr,
    /// Data directory (plugin cache; the log too with file storage).
    pub data_dir: PathBuf,
    /// The storage engine.
    pub storage: StorageSpec,
    /// Whether the data dir is a throw-away one (`--ephemeral`), removed at exit.
    pub ephemeral: bool,
    /// Fsync policy.
    pub fsync: FsyncPolicy,
    /// Auto-create topics on produce.
    pub auto_create_topics: bool,
    /// Partitions of auto-created topics.
    pub default_partitions: u32,
    /// Request body limit.
    pub max_body_bytes: usize,
    /// Default segment size.
    pub segment_bytes: u64,
    /// Maintenance period.
    pub maintenance_interval: Duration,
    /// Shutdown drain deadline.
    pub drain_timeout: Duration,
    /// Header-read (and keep-alive idle) timeout.
    pub header_read_timeout: Duration,
    /// Most open connections.
    pub max_connections: usize,
    /// Most records per produce request.
    pub max_records_per_request: usize,
    /// In-flight fetch budget.
    pub fetch_budget_bytes: usize,
    /// Memory cap of the plugin compiler process.
    pub plugin_compile_max_memory_bytes: u64,
    /// Offset-map bound of one compaction pass, in keys.
    pub compaction_map_entries: usize,
    /// Idle lifetime of a REST Proxy consumer instance, in ms.
    pub consumer_instance_timeout_ms: u64,
    /// TLS on the listener, when configured.
    pub tls: Option<crate::http::tls::TlsFiles>,
    /// Authentication.
    pub auth: crate::http::auth::AuthConfig,
    /// Limits per principal.
    pub principal_limits: crate::http::limits::Quotas,
    /// OIDC/JWT bearer tokens, when configured.
    pub oidc: Option<crate::http::oidc::OidcSettings>,
}

/// Which storage engine to run, from `--storage URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageSpec {
    /// `file://DIR`: the built-in durable log in DIR.
    File(PathBuf),
    /// `memory://`: in-process storage; nothing survives the process.
    Memory,
}

/// Parses a storage URL; a bare `file://` means the data dir.
fn parse_storage(url: &str, data_dir: &std::path::Path) -> Result<StorageSpec, String> {
    match url.split_once("://") {
        Some(("file", "")) => Ok(StorageSpec::File(data_dir.to_path_buf())),
        Some(("file", path)) => Ok(StorageSpec::File(PathBuf::from(path))),
        Some(("memory", "")) => Ok(StorageSpec::Memory),
        Some(("kafka", _)) => Err(format!(
            "'{url}': the Kafka-backed engine is not built yet; use file:// or memory://"
        )),
        _ => Err(format!("'{url}' is not file://DIR or memory://")),
    }
}

/// Every problem found, one per line as `field: problem`.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  {}", .0.join("\n  "))]
pub struct Error(pub Vec<String>);

impl Config {
    /// Merges the file named by `args.config` (if any) under the flags and validates the result.
    ///
    /// # Errors
    /// Every invalid or unreadable setting, at once.
    pub fn load(args: &ServeArgs) -> Result<Self, Error> {
        let mut problems = Vec::new();
        let file = match &args.config {
            None => ServeArgs::default(),
            Some(path) => match std::fs::read_to_string(path) {
                Ok(text) => toml::from_str(&text).unwrap_or_else(|e| {
                    problems.push(format!("config {}: {e}", path.display()));
                    ServeArgs::default()
                }),
                Err(e) => {
                    problems.push(format!("config: cannot read {}: {e}", path.display()));
                    ServeArgs::default()
                }
            },
        };
        let s = args.clone().over(file);
        let listen_text = s.listen.unwrap_or_else(|| DEFAULT_LISTEN.into());
        let listen = listen_text.parse().unwrap_or_else(|_| {
            problems.push(format!("listen: '{listen_text}' is not an IP:port address"));
            SocketAddr::from(([127, 0, 0, 1], 0))
        });
        let fsync = parse_fsync(s.fsync.as_deref().unwrap_or("always")).unwrap_or_else(|p| {
            problems.push(format!("fsync: {p}"));
            FsyncPolicy::Always
        });
        let default_partitions = s.default_partitions.unwrap_or(1);
        if !(1..=crate::broker::MAX_PARTITIONS).contains(&default_partitions) {
            problems.push(format!(
                "default_partitions: must be 1 to {}, got {default_partitions}",
                crate::broker::MAX_PARTITIONS
            ));
        }
        let p = &mut problems;
        let max_body_bytes = bounded(p, "max_body_bytes", s.max_body_bytes, 8 << 20, 1024);
        let segment_bytes = bounded(
            p,
            "segment_bytes",
            s.segment_bytes,
            DEFAULT_SEGMENT_BYTES,
            1024,
        );
        let maintenance_ms = bounded(
            p,
            "maintenance_interval_ms",
            s.maintenance_interval_ms,
            30_000,
            1,
        );
        let drain_ms = bounded(p, "drain_timeout_ms", s.drain_timeout_ms, 10_000, 0);
        let header_ms = bounded(
            p,
            "header_read_timeout_ms",
            s.header_read_timeout_ms,
            10_000,
            1,
        );
        let max_connections = bounded(p, "max_connections", s.max_connections, 10_000, 1);
        let max_records_per_request = bounded(
            p,
            "max_records_per_request",
            s.max_records_per_request,
            crate::broker::DEFAULT_MAX_RECORDS_PER_REQUEST,
            1,
        );
        let fetch_budget_bytes = bounded(
            p,
            "fetch_budget_bytes",
            s.fetch_budget_bytes,
            256 << 20,
            1 << 20,
        );
        let compile_memory = bounded(
            p,
            "plugin_compile_max_memory_bytes",
            s.plugin_compile_max_memory_bytes,
            DEFAULT_PLUGIN_COMPILE_MEMORY,
            MIN_PLUGIN_COMPILE_MEMORY,
        );
        let compaction_map_entries = bounded(
            p,
            "compaction_map_entries",
            s.compaction_map_entries,
            1 << 20,
            1024,
        );
        let consumer_instance_timeout_ms = bounded(
            p,
            "consumer_instance_timeout_ms",
            s.consumer_instance_timeout_ms,
            300_000,
            100,
        );
        let client_principal = match s.tls_client_principal.as_deref().map(str::parse) {
            None => crate::http::client_cert::CertPrincipal::default(),
            Some(Ok(which)) => which,
            Some(Err(e)) => {
                problems.push(format!("tls_client_principal: {e}"));
                crate::http::client_cert::CertPrincipal::default()
            }
        };
        let tls = match (s.tls_cert, s.tls_key) {
            (Some(cert), Some(key)) => Some(crate::http::tls::TlsFiles {
                cert,
                key,
                client_ca: s.tls_client_ca,
                client_principal,
            }),
            (None, None) if s.tls_client_ca.is_none() => None,
            _ => {
                problems.push(
                    "tls: --tls-cert and --tls-key go together (and --tls-client-ca needs both)"
                        .to_owned(),
                );
                None
            }
        };
        let jwks = match (s.oidc_jwks_file, s.oidc_jwks_url) {
            (Some(path), None) => Some(crate::http::oidc::JwksSource::File(path)),
            (None, Some(url)) => {
                if let Err(e) = crate::http::oidc::check_jwks_url(&url) {
                    problems.push(format!("oidc_jwks_url: {e}"));
                }
                let refresh = s.oidc_jwks_refresh_ms.unwrap_or(300_000).max(1_000);
                Some(crate::http::oidc::JwksSource::Url {
                    url,
                    refresh: Duration::from_millis(refresh),
                })
            }
            (None, None) => None,
            (Some(_), Some(_)) => {
                problems.push("oidc: give --oidc-jwks-file or --oidc-jwks-url, not both".into());
                None
            }
        };
        let oidc = match (s.oidc_issuer, s.oidc_audience, jwks) {
            (Some(issuer), Some(audience), Some(jwks)) => Some(crate::http::oidc::OidcSettings {
                issuer,
                audience,
                jwks,
                principal_claim: s.oidc_principal_claim.unwrap_or_else(|| "sub".into()),
                groups_claim: s.oidc_groups_claim.unwrap_or_else(|| "groups".into()),
            }),
            (None, None, None) => None,
            _ => {
                problems.push(
                    "oidc: --oidc-issuer, --oidc-audience and a key set (--oidc-jwks-file or \
                     --oidc-jwks-url) go together"
                        .into(),
                );
                None
            }
        };
        let ephemeral = s.ephemeral.unwrap_or(false);
        let data_dir = match s.data_dir {
            Some(dir) => dir,
            None if ephemeral => {
                std::env::temp_dir().join(format!("tidegate-{}", std::process::id()))
            }
            None => DEFAULT_DATA_DIR.into(),
        };
        let storage_url = match (s.storage, ephemeral) {
            (Some(url), _) => url,
            (None, true) => "memory://".into(),
            (None, false) => "file://".into(),
        };
        let storage = parse_storage(&storage_url, &data_dir).unwrap_or_else(|p| {
            problems.push(format!("storage: {p}"));
            StorageSpec::Memory
        });
        if !problems.is_empty() {
            return Err(Error(problems));
        }
        Ok(Self {
            listen,
            data_dir,
            storage,
            ephemeral,
            fsync,
            auto_create_topics: s.auto_create_topics.unwrap_or(false),
            default_partitions,
            max_body_bytes,
            segment_bytes,
            maintenance_interval: Duration::from_millis(maintenance_ms),
            drain_timeout: Duration::from_millis(drain_ms),
            header_read_timeout: Duration::from_millis(header_ms),
            max_connections,
            max_records_per_request,
            fetch_budget_bytes,
            plugin_compile_max_memory_bytes: compile_memory,
            compaction_map_entries,
            consumer_instance_timeout_ms,
            tls,
            principal_limits: crate::http::limits::Quotas {
                request_rate: s.principal_request_rate.unwrap_or(0),
                request_burst: s
                    .principal_request_burst
                    .or(s.principal_request_rate)
                    .unwrap_or(0),
                produce_bytes_rate: s.principal_produce_bytes_rate.unwrap_or(0),
                fetch_bytes_rate: s.principal_fetch_bytes_rate.unwrap_or(0),
                max_streams: s.principal_max_streams.unwrap_or(0),
                max_connections: s.principal_max_connections.unwrap_or(0),
            },
            oidc,
            auth: crate::http::auth::AuthConfig {
                required: s.auth_required.unwrap_or(false),
                admin_token: s.auth_admin_token.filter(|t| !t.is_empty()),
                oidc: None,
            },
        })
    }
}

/// One numeric setting (already layered), or its default, checked against its minimum; a
/// problem is recorded with the field's name.
fn bounded<T: Copy + PartialOrd + std::fmt::Display>(
    problems: &mut Vec<String>,
    field: &str,
    value: Option<T>,
    default: T,
    min: T,
) -> T {
    let value = value.unwrap_or(default);
    if value < min {
        problems.push(format!("{field}: must be ≥ {min}, got {value}"));
    }
    value
}

/// `always`, `never`, or a positive interval in milliseconds.
fn parse_fsync(text: &str) -> Result<FsyncPolicy, String> {
    match text.trim() {
        "always" => Ok(FsyncPolicy::Always),
        "never" => Ok(FsyncPolicy::Never),
        ms => ms
            .parse::<u64>()
            .ok()
            .filter(|ms| *ms > 0)
            .map(|ms| FsyncPolicy::Interval(Duration::from_millis(ms)))
            .ok_or_else(|| format!("'{text}' is not 'always', 'never' or a positive number of ms")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_embedded_setup() {
        let config = Config::load(&ServeArgs::default()).unwrap();
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.fsync, FsyncPolicy::Always);
        assert_eq!(config.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(config.storage, StorageSpec::File(DEFAULT_DATA_DIR.into()));
    }

    #[test]
    fn storage_urls_pick_an_engine() {
        let load = |storage: &str| {
            Config::load(&ServeArgs {
                storage: Some(storage.into()),
                ..Default::default()
            })
        };
        assert_eq!(load("memory://").unwrap().storage, StorageSpec::Memory);
        assert_eq!(
            load("file:///srv/tg").unwrap().storage,
            StorageSpec::File("/srv/tg".into())
        );
        let err = load("kafka://broker:9092").unwrap_err().to_string();
        assert!(
            err.contains("storage:") && err.contains("not built yet"),
            "{err}"
        );
        assert!(load("s3://bucket").is_err());
        let ephemeral = Config::load(&ServeArgs {
            ephemeral: Some(true),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(ephemeral.storage, StorageSpec::Memory);
        assert!(ephemeral.ephemeral);
    }

    #[test]
    fn file_is_overridden_by_flags_and_all_problems_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tidegate.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\nfsync = 50\ndata_dir = \"/tmp/x\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(path.clone()),
            listen: Some("127.0.0.1:9001".into()),
            ..Default::default()
        };
        let config = Config::load(&args).unwrap();
        assert_eq!(config.listen.port(), 9001);
        assert_eq!(
            config.fsync,
            FsyncPolicy::Interval(Duration::from_millis(50))
        );
        assert_eq!(config.data_dir, PathBuf::from("/tmp/x"));

        std::fs::write(&path, "fsync = \"sometimes\"\n").unwrap();
        let args = ServeArgs {
            config: Some(path),
            listen: Some("nope".into()),
            ..Default::default()
        };
        let err = Config::load(&args).unwrap_err();
        assert_eq!(err.0.len(), 2, "{err}");
        assert!(err.to_string().contains("fsync:") && err.to_string().contains("listen:"));
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(&path, "lisen = \"x\"\n").unwrap();
        let err = Config::load(&ServeArgs {
            config: Some(path),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("lisen"), "{err}");
    }
}
