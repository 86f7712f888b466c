//! The Docker registry token service's signing side: short-lived ES256 JWTs whose
//! `access` claim lists what was granted (the intersection of what the client asked
//! for and what [`airlock_access::authorize`] allows), and their verification.
//!
//! Every instance signs with its own P-256 key (kept in the data directory), so a
//! token from another Airlock fails verification. Only ES256 is accepted: `alg: none`
//! and HMAC tokens made with the public key are refused by construction.

use airlock_access::{ActionSet, RepoPattern, Resource, Scope};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::time::{SystemTime, UNIX_EPOCH};

/// Lifetime of an access token.
pub const ACCESS_TTL_SECS: u64 = 300;
/// Lifetime of a refresh token (`access_type=offline`).
pub const REFRESH_TTL_SECS: u64 = 7 * 24 * 3600;
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 5;
const REFRESH_TYPE: &str = "refresh";
/// Lifetime of an admin API session (`POST /api/v1/login`).
pub const SESSION_TTL_SECS: u64 = 12 * 3600;
const SESSION_TYPE: &str = "session";

/// One entry of the `access` claim, as Docker's token spec writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessEntry {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

impl AccessEntry {
    pub fn from_scope(scope: &Scope) -> AccessEntry {
        match &scope.resource {
            Resource::Repository(p) => AccessEntry {
                kind: "repository".into(),
                name: p.to_string(),
                actions: scope
                    .actions
                    .iter()
                    .map(|a| a.as_str().to_owned())
                    .collect(),
            },
            Resource::Catalog => AccessEntry {
                kind: "registry".into(),
                name: "catalog".into(),
                actions: vec!["*".into()],
            },
        }
    }

    /// The entry as a scope; `None` for anything malformed (such an entry grants nothing).
    pub fn to_scope(&self) -> Option<Scope> {
        match self.kind.as_str() {
            "repository" => Some(Scope {
                resource: Resource::Repository(RepoPattern::parse(&self.name).ok()?),
                actions: ActionSet::parse_list(&self.actions.join(",")).ok()?,
            }),
            "registry" if self.name == "catalog" => Scope::parse("registry:catalog:*").ok(),
            _ => None,
        }
    }
}

/// Which credential a token was derived from, and in which generation: a token,
/// refresh token or session is good only while its subject still has this immutable
/// id and this credential generation (a password reset, a rotation, disabling, a
/// second factor added or removed, or deletion and re-creation under the same name
/// all change one of them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub uid: String,
    pub gen: i64,
}

/// A new immutable principal id: 128 random bits, hex.
pub fn new_uid() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: u64,
    pub nbf: u64,
    pub iat: u64,
    pub jti: String,
    #[serde(default)]
    pub access: Vec<AccessEntry>,
    /// Set on refresh tokens only; an access token never has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// The credential it was derived from; tokens without one (issued before
    /// credentials had generations) are refused where it is checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cred: Option<Stamp>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("invalid token: {0}")]
    Invalid(String),
}

pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    kid: String,
    issuer: String,
    audience: String,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl TokenService {
    /// A new P-256 signing key, PKCS#8 DER.
    pub fn generate_key() -> anyhow::Result<Vec<u8>> {
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| anyhow::anyhow!("cannot generate a signing key"))?;
        Ok(doc.as_ref().to_vec())
    }

    /// `issuer` names this registry in `iss`; `audience` is the `service` clients
    /// ask tokens for and must match `aud`.
    pub fn from_pkcs8(der: &[u8], issuer: &str, audience: &str) -> anyhow::Result<TokenService> {
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &SystemRandom::new())
                .map_err(|e| anyhow::anyhow!("invalid token signing key: {e}"))?;
        let public = pair.public_key().as_ref().to_vec();
        let kid = hex::encode(&Sha256::digest(&public)[..16]);
        Ok(TokenService {
            encoding: EncodingKey::from_ec_der(der),
            decoding: DecodingKey::from_ec_der(&public),
            kid,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        })
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        encode(&header, claims, &self.encoding).map_err(|e| anyhow::anyhow!("signing a token: {e}"))
    }

    fn claims(
        &self,
        subject: &str,
        stamp: &Stamp,
        access: Vec<AccessEntry>,
        ttl: u64,
        typ: Option<&str>,
    ) -> Claims {
        let now = now();
        Claims {
            iss: self.issuer.clone(),
            sub: subject.to_owned(),
            aud: self.audience.clone(),
            exp: now + ttl,
            nbf: now,
            iat: now,
            jti: uuid::Uuid::new_v4().to_string(),
            access,
            typ: typ.map(str::to_owned),
            cred: Some(stamp.clone()),
        }
    }

    /// An access token for `subject` (whose credential is `stamp`) carrying exactly
    /// `granted`.
    pub fn issue(
        &self,
        subject: &str,
        stamp: &Stamp,
        granted: &[Scope],
    ) -> anyhow::Result<(String, Claims)> {
        let access = granted.iter().map(AccessEntry::from_scope).collect();
        let claims = self.claims(subject, stamp, access, ACCESS_TTL_SECS, None);
        Ok((self.sign(&claims)?, claims))
    }

    /// A refresh token: proves who the subject is, grants nothing by itself.
    pub fn issue_refresh(&self, subject: &str, stamp: &Stamp) -> anyhow::Result<String> {
        self.sign(&self.claims(
            subject,
            stamp,
            Vec::new(),
            REFRESH_TTL_SECS,
            Some(REFRESH_TYPE),
        ))
    }

    fn decode(&self, token: &str) -> Result<Claims, TokenError> {
        if token.len() > 16 * 1024 {
            return Err(TokenError::Invalid("token too long".into()));
        }
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| TokenError::Invalid(e.to_string()))?;
        if header.alg != Algorithm::ES256 || header.kid.as_deref() != Some(self.kid.as_str()) {
            return Err(TokenError::Invalid("not signed by this registry".into()));
        }
        let mut v = Validation::new(Algorithm::ES256);
        v.set_audience(&[&self.audience]);
        v.set_issuer(&[&self.issuer]);
        v.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        v.validate_nbf = true;
        v.leeway = LEEWAY_SECS;
        let claims = decode::<Claims>(token, &self.decoding, &v)
            .map(|d| d.claims)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        // A validly signed token that claims to live longer than this registry issues
        // its kind for, or to be issued in the future, is refused.
        let ttl = match claims.typ.as_deref() {
            None => ACCESS_TTL_SECS,
            Some(REFRESH_TYPE) => REFRESH_TTL_SECS,
            Some(SESSION_TYPE) => SESSION_TTL_SECS,
            Some(_) => return Err(TokenError::Invalid("unknown token type".into())),
        };
        if claims.exp.saturating_sub(claims.iat) > ttl + LEEWAY_SECS
            || claims.iat > now() + LEEWAY_SECS
        {
            return Err(TokenError::Invalid("lifetime out of bounds".into()));
        }
        Ok(claims)
    }

    /// Verifies an access token: signature, issuer, audience, time window.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let claims = self.decode(token)?;
        if claims.typ.is_some() {
            return Err(TokenError::Invalid(
                "a refresh token is not an access token".into(),
            ));
        }
        Ok(claims)
    }

    /// A login session for the admin API: proves a user logged in with their password
    /// and, where they have one, their second factor. Grants no registry access.
    pub fn issue_session(&self, user: &str, stamp: &Stamp) -> anyhow::Result<String> {
        self.sign(&self.claims(
            user,
            stamp,
            Vec::new(),
            SESSION_TTL_SECS,
            Some(SESSION_TYPE),
        ))
    }

    /// Verifies a session token; its claims (the user is `sub`).
    pub fn verify_session(&self, token: &str) -> Result<Claims, TokenError> {
        let claims = self.decode(token)?;
        if claims.typ.as_deref() != Some(SESSION_TYPE) {
            return Err(TokenError::Invalid("not a session token".into()));
        }
        Ok(claims)
    }

    /// Verifies a refresh token; its claims.
    pub fn verify_refresh(&self, token: &str) -> Result<Claims, TokenError> {
        let claims = self.decode(token)?;
        if claims.typ.as_deref() != Some(REFRESH_TYPE) {
            return Err(TokenError::Invalid("not a refresh token".into()));
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn service() -> TokenService {
        TokenService::from_pkcs8(
            &TokenService::generate_key().unwrap(),
            "airlock",
            "airlock-registry",
        )
        .unwrap()
    }

    fn stamp() -> Stamp {
        Stamp {
            uid: "u1".into(),
            gen: 3,
        }
    }

    fn b64(v: &serde_json::Value) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[test]
    fn issues_and_verifies() {
        let s = service();
        let scopes = vec![Scope::parse("repository:team/app:pull,push").unwrap()];
        let (jwt, _) = s.issue("alice", &stamp(), &scopes).unwrap();
        let claims = s.verify(&jwt).unwrap();
        assert_eq!(claims.sub, "alice");
        assert_eq!(claims.cred, Some(stamp()));
        assert_eq!(claims.access[0].actions, vec!["pull", "push"]);
        assert_eq!(claims.access[0].to_scope().unwrap(), scopes[0]);
        assert!(
            s.verify_refresh(&jwt).is_err(),
            "an access token is no refresh token"
        );
        let refresh = s.issue_refresh("alice", &stamp()).unwrap();
        let r = s.verify_refresh(&refresh).unwrap();
        assert_eq!((r.sub.as_str(), r.cred), ("alice", Some(stamp())));
        assert!(
            s.verify(&refresh).is_err(),
            "a refresh token grants no access"
        );
        let session = s.issue_session("alice", &stamp()).unwrap();
        assert_eq!(s.verify_session(&session).unwrap().sub, "alice");
        assert!(s.verify(&session).is_err(), "a session is no access token");
        assert!(s.verify_refresh(&session).is_err());
        assert!(s.verify_session(&refresh).is_err());
        assert!(s.verify_session(&jwt).is_err());
    }

    #[test]
    fn rejects_forgeries() {
        let s = service();
        let (jwt, claims) = s
            .issue(
                "alice",
                &stamp(),
                &[Scope::parse("repository:a:pull").unwrap()],
            )
            .unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();

        // alg: none
        let none = format!(
            "{}.{}.",
            b64(&serde_json::json!({"alg":"none","typ":"JWT"})),
            parts[1]
        );
        assert!(s.verify(&none).is_err());

        // HS256 "signed" with the public key bytes
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some(s.kid.clone());
        let pair = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &TokenService::generate_key().unwrap(),
            &SystemRandom::new(),
        )
        .unwrap();
        let hs = encode(
            &h,
            &claims,
            &EncodingKey::from_secret(pair.public_key().as_ref()),
        )
        .unwrap();
        assert!(s.verify(&hs).is_err());

        // edited claims, original signature
        let mut edited = serde_json::to_value(&claims).unwrap();
        edited["access"][0]["actions"] = serde_json::json!(["pull", "push", "delete"]);
        let forged = format!("{}.{}.{}", parts[0], b64(&edited), parts[2]);
        assert!(s.verify(&forged).is_err());

        // another instance's token
        let other = service();
        let (theirs, _) = other.issue("alice", &stamp(), &[]).unwrap();
        assert!(s.verify(&theirs).is_err());

        // wrong audience / issuer, expired, not yet valid: signed with the right key
        let sign = |c: &Claims| s.sign(c).unwrap();
        let mut c = claims.clone();
        c.aud = "someone-else".into();
        assert!(s.verify(&sign(&c)).is_err());
        let mut c = claims.clone();
        c.iss = "evil".into();
        assert!(s.verify(&sign(&c)).is_err());
        let mut c = claims.clone();
        c.exp = now() - 60;
        assert!(s.verify(&sign(&c)).is_err());
        let mut c = claims.clone();
        c.nbf = now() + 600;
        assert!(s.verify(&sign(&c)).is_err());
        // validly signed, but living longer than this registry issues access tokens for,
        // or issued in the future
        let mut c = claims.clone();
        c.exp = now() + 10 * 365 * 24 * 3600;
        assert!(s.verify(&sign(&c)).is_err());
        let mut c = claims.clone();
        c.iat = now() + 3600;
        c.exp = c.iat + 60;
        assert!(s.verify(&sign(&c)).is_err());
        let mut c = claims.clone();
        c.typ = Some("forever".into());
        assert!(s.verify_refresh(&sign(&c)).is_err());
        // the untouched token still verifies
        assert!(s.verify(&sign(&claims)).is_ok());
        assert!(s.verify("garbage").is_err());
        assert!(s.verify("").is_err());
    }
}
