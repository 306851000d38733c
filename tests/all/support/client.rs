//! A minimal JSON-over-HTTP/1.1 client for tests (hyper-util's pooled client).

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::{Client as Hyper, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

#[derive(Clone)]
pub struct Client {
    base: String,
    inner: Hyper<HttpConnector, Full<Bytes>>,
}

/// A response: status, JSON body (Null when empty or not JSON), raw bytes.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: hyper::HeaderMap,
    pub json: Value,
    pub raw: Bytes,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            base: format!("http://{addr}"),
            inner: Hyper::builder(TokioExecutor::new()).build_http(),
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: impl Into<Bytes>,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.try_send(method, path, body, headers).await.unwrap()
    }

    /// Like `send`, but a broken connection is an `Err` (for tests that kill the server).
    pub async fn try_send(
        &self,
        method: Method,
        path: &str,
        body: impl Into<Bytes>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, Box<dyn std::error::Error + Send + Sync>> {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .header("content-type", "application/json")
            .body(Full::new(body.into()))?;
        let resp = self.inner.request(req).await?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let raw = resp.into_body().collect().await?.to_bytes();
        let json = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Ok(Reply {
            status,
            headers,
            json,
            raw,
        })
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, Bytes::new(), &[]).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::POST, path, serde_json::to_vec(body).unwrap(), &[])
            .await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, Bytes::new(), &[]).await
    }

    /// Creates a topic and asserts 201.
    pub async fn create_topic(&self, name: &str, partitions: u32) -> Value {
        let r = self
            .post(
                "/v1/topics",
                &serde_json::json!({"name": name, "partitions": partitions}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
        r.json
    }

    /// Produces `records` (JSON objects as in the API) and returns the offsets array.
    pub async fn produce(&self, topic: &str, records: Value) -> Vec<(u64, u64)> {
        let r = self
            .post(
                &format!("/v1/topics/{topic}/records"),
                &serde_json::json!({"records": records}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
        r.json["offsets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                (
                    o["partition"].as_u64().unwrap(),
                    o["offset"].as_u64().unwrap(),
                )
            })
            .collect()
    }

    /// Fetches records of one partition from `offset`.
    pub async fn fetch(&self, topic: &str, partition: u32, query: &str) -> Reply {
        self.get(&format!(
            "/v1/topics/{topic}/partitions/{partition}/records?{query}"
        ))
        .await
    }

    /// End offsets of every partition of a topic.
    pub async fn end_offsets(&self, topic: &str) -> Vec<u64> {
        let r = self.get(&format!("/v1/topics/{topic}")).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
        r.json["partitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["end_offset"].as_u64().unwrap())
            .collect()
    }
}
