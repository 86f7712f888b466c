//! What arrives as credentials: client certificates (DER), personal access tokens,
//! second-factor codes, Docker scopes and access-token claims. Never panic; what
//! parses is consistent.
#![no_main]
use airlock_access::Scope;
use airlock_server::client_cert::ClientCertificate;
use airlock_server::directory::pat_id;
use airlock_server::second_factor::{is_totp_code, matching_step, recovery_hash};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(cert) = ClientCertificate::from_der(data) {
        assert!(!cert.common_name.is_empty() && cert.common_name.len() <= 64);
    }
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(id) = pat_id(s) {
        assert!(s.contains(id));
    }
    if matching_step(b"12345678901234567890", s, 1_700_000_000).is_some() {
        assert!(is_totp_code(s));
    }
    assert_eq!(recovery_hash(s).len(), 64);
    if let Ok(scope) = Scope::parse(s) {
        assert_eq!(Scope::parse(&scope.to_string()).as_ref(), Ok(&scope));
    }
});
