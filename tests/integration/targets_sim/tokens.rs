//! Tokens: one token per target serves many pushes and is renewed once when it expires;
//! ServiceNow's password grant refreshes the same way, and basic auth fetches none.

use std::sync::Arc;

use scriptsync::config::{Secret, SecretString};
use scriptsync::targets::Target;
use scriptsync::targets::servicenow::ServiceNowTarget;

use super::lane::{assert_all_delivered, drive};
use super::{bounded, changes, context, genesys, servicenow, sim, tenant};

#[tokio::test]
async fn one_token_for_many_pushes_and_one_renewal_after_expiry() {
    bounded(async {
        let sim = sim().await;
        let ctx = context(10);
        let g = genesys(&sim, "g4", &ctx);
        let sn = servicenow(&sim, "g4", "batch", &ctx);
        for version in 1..=3 {
            assert_all_delivered(
                &drive(g.clone(), &ctx, changes("g4", 10, version), false).await,
                10,
            );
            assert_all_delivered(
                &drive(sn.clone(), &ctx, changes("g4", 10, version), false).await,
                10,
            );
        }
        let state = sim.state().tenant("g4");
        assert_eq!(state.genesys.token_requests, 1);
        assert_eq!(state.servicenow.token_requests, 1);

        sim.expire_tokens(None);
        assert_all_delivered(&drive(g, &ctx, changes("g4", 10, 4), false).await, 10);
        assert_all_delivered(&drive(sn, &ctx, changes("g4", 10, 4), false).await, 10);
        let state = sim.state().tenant("g4");
        assert_eq!(
            state.genesys.token_requests, 2,
            "one renewal for every 401 of the old token"
        );
        assert_eq!(state.servicenow.token_requests, 2);
        assert!(state.genesys.answered(401) >= 1);
        assert!(state.genesys.held.values().all(|h| h.version == 4));
        assert!(state.servicenow.held.values().all(|h| h.version == 4));
        sim.shutdown();
    })
    .await;
}

#[tokio::test]
async fn servicenow_password_grant_refreshes_and_basic_auth_needs_no_token() {
    bounded(async {
        let sim = sim().await;
        let ctx = context(10);
        let mut t = tenant(&sim, "n5", "batch");
        let sn = t.servicenow.as_mut().unwrap();
        sn.auth = scriptsync::config::ServiceNowAuth::OauthPassword;
        sn.username = Some("integration.user".into());
        sn.password = Some(Secret::inline(SecretString::from("pw")));
        let target: Arc<dyn Target> = Arc::new(
            ServiceNowTarget::new("n5", t.servicenow.as_ref().unwrap(), &ctx, 100).unwrap(),
        );
        assert_all_delivered(
            &drive(target.clone(), &ctx, changes("n5", 3, 1), false).await,
            3,
        );
        sim.expire_tokens(None);
        assert_all_delivered(&drive(target, &ctx, changes("n5", 3, 2), false).await, 3);
        let state = sim.state().tenant("n5").servicenow;
        assert_eq!(state.token_requests, 2, "password grant, then one refresh");
        assert!(state.held.values().all(|h| h.version == 2));

        let mut t = tenant(&sim, "n6", "batch");
        let sn = t.servicenow.as_mut().unwrap();
        sn.auth = scriptsync::config::ServiceNowAuth::Basic;
        sn.username = Some("n6".into());
        sn.password = Some(Secret::inline(SecretString::from("pw")));
        let target: Arc<dyn Target> = Arc::new(
            ServiceNowTarget::new("n6", t.servicenow.as_ref().unwrap(), &ctx, 100).unwrap(),
        );
        assert_all_delivered(&drive(target, &ctx, changes("n6", 3, 1), false).await, 3);
        let state = sim.state().tenant("n6").servicenow;
        assert_eq!((state.token_requests, state.held.len()), (0, 3));
        sim.shutdown();
    })
    .await;
}
