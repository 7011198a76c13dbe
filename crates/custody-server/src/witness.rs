//! A c2sp.org/tlog-witness: `POST /add-checkpoint` over HTTP, with one durable state per log.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use custody_tlog::witness::SIZE_MEDIA_TYPE;
use custody_tlog::{
    AddCheckpointRequest, Error, NoteSignature, NoteSigner, NoteVerifier, WitnessState, http_status,
};

/// Largest request body: an add-checkpoint is a few proof lines and a checkpoint note.
pub const MAX_REQUEST: usize = 64 << 10;

/// A witness: its cosigning key, the logs it knows, and its state.
#[derive(Debug)]
pub struct Witness {
    key: NoteSigner,
    logs: HashMap<String, NoteVerifier>,
    state: WitnessState,
    /// Serialises decisions: each must see the state the previous one saved.
    lock: Mutex<()>,
}

/// The witness's answer to one request.
#[derive(Debug)]
pub enum Decision {
    /// Cosigned: the signature line.
    Cosigned(NoteSignature),
    /// Refused, with the HTTP status and a reason; a 409 carries the witness's size.
    Refused {
        /// c2sp.org/tlog-witness status.
        status: u16,
        /// What went wrong.
        error: Error,
    },
}

impl Witness {
    /// A witness with a cosignature/v1 `key` for the logs whose checkpoint keys are `logs`
    /// (each key's name is its log's origin).
    pub fn new(key: NoteSigner, logs: Vec<NoteVerifier>, state: WitnessState) -> Self {
        Self {
            key,
            logs: logs.into_iter().map(|v| (v.name().to_owned(), v)).collect(),
            state,
            lock: Mutex::new(()),
        }
    }

    /// The witness's verifier key.
    pub fn verifier(&self) -> &NoteVerifier {
        self.key.verifier()
    }

    /// Decides a request body at `now_unix`, saving the new state before cosigning is
    /// reported.
    pub fn add_checkpoint(&self, body: &[u8], now_unix: u64) -> Decision {
        let refused = |error: Error| Decision::Refused {
            status: http_status(&error),
            error,
        };
        if body.len() > MAX_REQUEST {
            return refused(Error::BadWitnessRequest {
                line: 0,
                rule: "request body too large",
            });
        }
        let req = match AddCheckpointRequest::parse(body) {
            Ok(r) => r,
            Err(e) => return refused(e),
        };
        // The origin decides which log key to check with; unknown logs are 404.
        let origin = match custody_tlog::Note::parse(&req.checkpoint)
            .and_then(|n| custody_tlog::Checkpoint::parse(n.text()))
        {
            Ok(cp) => cp.origin,
            Err(e) => return refused(e),
        };
        let Some(log_key) = self.logs.get(&origin) else {
            return Decision::Refused {
                status: 404,
                error: Error::OriginMismatch {
                    expected: "a log this witness knows".to_owned(),
                    actual: origin,
                },
            };
        };
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let result = self.state.load(&origin, log_key).and_then(|log| {
            let (cosig, signed) = log.add_checkpoint(&req, &self.key, now_unix)?;
            self.state.save(&signed)?;
            Ok(cosig)
        });
        match result {
            Ok(cosig) => Decision::Cosigned(cosig),
            Err(e) => refused(e),
        }
    }

    /// The witness as an HTTP router: `POST /add-checkpoint`.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/add-checkpoint", post(add_checkpoint))
            .with_state(self)
    }
}

async fn add_checkpoint(State(w): State<Arc<Witness>>, body: Bytes) -> Response {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // File writes and fsync: off the async thread.
    let decision = tokio::task::spawn_blocking(move || w.add_checkpoint(&body, now)).await;
    match decision {
        Ok(Decision::Cosigned(sig)) => (StatusCode::OK, sig.line()).into_response(),
        Ok(Decision::Refused {
            error: Error::WitnessOldSize { witness, .. },
            ..
        }) => {
            let mut res = (StatusCode::CONFLICT, format!("{witness}\n")).into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(SIZE_MEDIA_TYPE),
            );
            res
        }
        Ok(Decision::Refused { status, error }) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            format!("{error}\n"),
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
