//! One raw HTTP/1.1 connection per worker, and small request helpers.

#[allow(
    unused_imports,
    reason = "the shared import list of the loadgen modules"
)]
use super::*;

// Connections

/// Where to connect and what to put in the Host header.
#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) addr: SocketAddr,
    pub(crate) host: String,
}

impl Target {
    pub(crate) async fn resolve(server: &str) -> Result<Self> {
        let server = server.trim().trim_end_matches('/');
        let uri: hyper::Uri = if server.contains("://") {
            server.parse()
        } else {
            format!("http://{server}").parse()
        }
        .with_context(|| format!("invalid --server {server:?}"))?;
        if uri.scheme_str().is_some_and(|s| s != "http") {
            bail!("only http:// servers are supported");
        }
        let authority = uri
            .authority()
            .ok_or_else(|| anyhow!("--server needs a host"))?;
        let port = authority.port_u16().unwrap_or(80);
        let addr = tokio::net::lookup_host((authority.host(), port))
            .await
            .with_context(|| format!("resolving {authority}"))?
            .next()
            .ok_or_else(|| anyhow!("{authority} resolved to no address"))?;
        Ok(Self {
            addr,
            host: authority.to_string(),
        })
    }

    pub(crate) async fn connect(&self) -> Result<Conn> {
        let stream = TcpStream::connect(self.addr)
            .await
            .with_context(|| format!("connecting to {}", self.addr))?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP handshake")?;
        tokio::spawn(async move {
            // Errors surface through the sender; nothing to do here.
            let _ = conn.await;
        });
        Ok(Conn {
            sender,
            target: self.clone(),
        })
    }
}

pub(crate) struct Conn {
    pub(crate) sender: SendRequest<Full<Bytes>>,
    pub(crate) target: Target,
}

/// A completed exchange: status plus the whole body.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Bytes,
}

impl Conn {
    pub(crate) async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<Reply> {
        self.sender.ready().await.context("connection closed")?;
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.target.host);
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let req = req.body(Full::new(body.unwrap_or_default()))?;
        let resp = self
            .sender
            .send_request(req)
            .await
            .context("request failed")?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .context("reading response body")?
            .to_bytes();
        Ok(Reply { status, body })
    }
}

/// Simple one-shot request on a fresh connection (setup calls).
pub(crate) async fn one_shot(
    target: &Target,
    method: Method,
    path: &str,
    body: Option<Bytes>,
) -> Result<Reply> {
    let mut conn = target.connect().await?;
    conn.send(method, path, body).await
}

pub(crate) fn body_text(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let s = s.trim();
    if s.chars().count() > 300 {
        format!("{}…", s.chars().take(300).collect::<String>())
    } else {
        s.to_string()
    }
}

pub(crate) async fn ensure_topic(target: &Target, topic: &str, partitions: u32) -> Result<()> {
    let body = serde_json::to_vec(&serde_json::json!({ "name": topic, "partitions": partitions }))?;
    let reply = one_shot(target, Method::POST, "/v1/topics", Some(body.into())).await?;
    match reply.status {
        200..=299 => eprintln!("created topic {topic} ({partitions} partitions)"),
        409 => eprintln!("topic {topic} exists"),
        s => bail!(
            "creating topic {topic}: HTTP {s}: {}",
            body_text(&reply.body)
        ),
    }
    Ok(())
}

/// Characters left as they are in a path segment: RFC 3986 unreserved ones.
pub(crate) const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub(crate) fn percent_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, UNRESERVED).to_string()
}
