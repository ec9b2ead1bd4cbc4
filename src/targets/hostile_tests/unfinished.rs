//! A server whose headers never finish: the attempt times out as transient, never hangs.

use super::*;

#[tokio::test]
async fn headers_that_never_finish_time_out_as_transient() {
    let stalled = serve_unfinished_headers().await;
    let tokens = serve(vec![]).await;
    let mut settings = tenant(&tokens).genesys.unwrap();
    settings.api_base = Some(url::Url::parse(&stalled).unwrap());
    let target = GenesysTarget::new("t1", &settings, &context()).unwrap();
    let got = attempt(&target, &mut [job("s", false)]).await;
    let e = failure(&got[0]);
    assert_eq!(e.class, Class::Transient, "{e:?}");
    assert!(e.message.contains("timeout"), "{}", e.message);
    let target = servicenow(&stalled);
    let got = attempt(&target, &mut [job("a", false)]).await;
    let e = failure(&got[0]);
    assert_eq!(e.class, Class::Transient, "{e:?}");
    assert!(e.message.contains("timeout"), "{}", e.message);
}
