//! ServiceNow answering nonsense: a 200 that is not a whole answer is transient, and a Batch
//! API answer that does not match the call is judged item by item.

use super::*;

#[tokio::test]
async fn servicenow_a_200_that_is_not_a_whole_answer_is_transient() {
    let cancelled = r#"{"serviced_requests":[],"unserviced_requests":[],"error":{"message":"Transaction cancelled: maximum execution time exceeded","detail":"Transaction cancelled"}}"#;
    let answers = [
        text(200, "<html>maintenance</html>"),
        text(200, r#"{"serviced_requests":[{"id":"#),
        (
            200,
            vec![("content-type", "application/json".into())],
            cancelled.into(),
        ),
    ];
    for answer in answers {
        let base = serve(vec![answer.clone()]).await;
        let target = servicenow(&base);
        let mut jobs = [job("a", false), job("b", false)];
        let got = attempt(&target, &mut jobs).await;
        assert_eq!(got.len(), 2);
        for a in &got {
            assert_eq!(failure(a).class, Class::Transient, "{:?}", answer.2);
        }
    }
}

#[tokio::test]
async fn servicenow_a_batch_answer_that_does_not_match_the_call() {
    // Sub-request ids are the change ids.
    let mut jobs = [job("a", false), job("b", false), job("c", false)];
    let ids = ["c-a", "c-b", "c-c"];
    let ok = STANDARD_B64.encode(r#"{"result":[{"status":"inserted"}]}"#);
    let error = STANDARD_B64.encode(r#"{"result":[{"status":"error","error_message":"bad"}]}"#);
    let sub = |id: &str, body: &str| json!({"id": id, "status_code": 201, "body": body});
    let answer = json!({
        "batch_request_id": "x",
        "serviced_requests": [
            sub(ids[0], &ok),
            sub(ids[1], &ok), sub(ids[1], &error),
            sub("an-id-never-sent", &ok),
        ],
        "unserviced_requests": [],
    });
    let base = serve(vec![json(answer)]).await;
    let target = servicenow(&base);
    let got = attempt(&target, &mut jobs).await;
    assert!(matches!(got[0], Attempted::Delivered), "{got:?}");
    let repeated = failure(&got[1]);
    assert_eq!(repeated.class, Class::Transient);
    assert!(
        repeated.message.contains("more than once"),
        "{}",
        repeated.message
    );
    let omitted = failure(&got[2]);
    assert_eq!(omitted.class, Class::Transient);
    assert!(
        omitted.message.contains("not serviced"),
        "{}",
        omitted.message
    );
}
