//! `tidegate consume --ws`: follow a topic over the WebSocket subscription, the same path
//! browsers use, printing values as records are appended.

use std::sync::Arc;

use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::consume::{StartFrom, parse_from};
use super::*;

/// Runs `tidegate consume --ws` until `--max-records`, Ctrl-C, or the server closes.
pub(super) async fn consume_ws(server: &str, args: &ConsumeArgs) -> Result<()> {
    if args.group.is_some() {
        bail!("--ws does not support --group yet; use long polls (without --ws) for groups");
    }
    if args.max_records == Some(0) {
        return Ok(());
    }
    let base = server.trim_end_matches('/');
    let (ws_base, secure) = match base.split_once("://") {
        Some(("http", rest)) => (format!("ws://{rest}"), false),
        Some(("https", rest)) => (format!("wss://{rest}"), true),
        _ => bail!("--server must be an http:// or https:// URL, got {server:?}"),
    };
    let from = match parse_from(&args.from)? {
        StartFrom::Earliest => "earliest".to_owned(),
        StartFrom::Latest => "latest".to_owned(),
        StartFrom::Offset(o) => o.to_string(),
    };
    let mut url = format!(
        "{ws_base}/v1/topics/{}/subscribe?from={from}",
        seg(&args.topic)
    );
    if let Some(p) = args.partition {
        url.push_str(&format!("&partitions={p}"));
    }
    if let Some(token) = super::token() {
        let token: String = form_urlencoded::byte_serialize(token.as_bytes()).collect();
        url.push_str(&format!("&token={token}"));
    }
    let stream = open_stream(&url, secure).await?;
    let mut socket = match tokio_tungstenite::client_async(url.as_str(), stream).await {
        Ok((socket, _)) => socket,
        Err(WsError::Http(resp)) => {
            let body = resp.body().clone().unwrap_or_default();
            let message = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            bail!("{}: {message}", resp.status());
        }
        Err(e) => return Err(e).context("connecting the WebSocket"),
    };
    let mut out = std::io::stdout().lock();
    let mut printed = 0u64;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let msg = tokio::select! {
            msg = socket.next() => msg,
            _ = &mut ctrl_c => break,
        };
        let text = match msg {
            None => break,
            Some(Err(e)) => return Err(e).context("reading the WebSocket"),
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(Some(frame)))) if frame.code != CloseCode::Normal => {
                bail!(
                    "the server closed the subscription ({}): {}",
                    u16::from(frame.code),
                    frame.reason
                );
            }
            Some(Ok(Message::Close(_))) => break,
            Some(Ok(_)) => continue,
        };
        let frame: Value =
            serde_json::from_str(text.as_str()).context("a frame that is not JSON")?;
        if let Some(error) = frame.get("error") {
            bail!(
                "{}",
                error["message"].as_str().unwrap_or("subscription failed")
            );
        }
        let line = match (frame.get("value_base64"), frame.get("value")) {
            (Some(Value::String(b64)), _) => b64.clone(),
            (_, Some(v)) => serde_json::to_string(v)?,
            _ => "null".to_owned(),
        };
        if !write_line(&mut out, &line)? || !finish_stdout(&mut out)? {
            return Ok(());
        }
        printed += 1;
        if args.max_records.is_some_and(|m| printed >= m) {
            break;
        }
    }
    let _ = socket.close(None).await;
    Ok(())
}

/// A plain or TLS byte stream under the WebSocket.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Connects to the host of `url`; with `secure`, through TLS offering only HTTP/1.1 (the
/// WebSocket upgrade needs it).
async fn open_stream(url: &str, secure: bool) -> Result<Box<dyn Io>> {
    let uri: hyper::Uri = url.parse().with_context(|| format!("invalid URL {url}"))?;
    let host = uri
        .host()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_owned())
        .ok_or_else(|| anyhow!("no host in {url}"))?;
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .with_context(|| format!("connecting to {host}:{port} (is the server running?)"))?;
    let _ = tcp.set_nodelay(true);
    if !secure {
        return Ok(Box::new(tcp));
    }
    let config = super::tls::config(&[b"http/1.1"], true)?;
    let name = rustls::pki_types::ServerName::try_from(host.clone())
        .with_context(|| format!("{host} is not a valid TLS server name"))?;
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .with_context(|| format!("TLS handshake with {host}:{port}"))?;
    Ok(Box::new(stream))
}
