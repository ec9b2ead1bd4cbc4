//! Reading a response body with a size limit, so a server that answers with a huge (or
//! endless) body costs at most `limit` bytes of memory: the read stops there and the answer
//! is treated as unreadable (DESIGN §6: transient), never buffered whole.

/// Largest target answer read: a Batch API answer for 100 records is tens of KiB.
pub const MAX_TARGET_BODY: usize = 4 << 20;
/// Largest token endpoint answer read: a token response is well under 10 KiB.
pub const MAX_TOKEN_BODY: usize = 64 << 10;

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("answer body over {limit} bytes")]
    TooLarge { limit: usize },
    #[error(transparent)]
    Transport(#[from] reqwest::Error),
}

/// The body of `response`, or [`BodyError::TooLarge`] as soon as it passes `limit` bytes
/// (at once when `Content-Length` says so).
pub async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
