//! Roles, bindings and the one decision: [`authorize`].

use crate::{Action, ActionSet, RepoPattern, Resource, Scope};
use airlock_oci::RepositoryName;
use std::fmt;

/// A named set of actions. The built-in roles cover the usual duties; custom roles
/// take any set.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Role {
    /// pull, list
    Reader,
    /// pull, push, list
    Contributor,
    /// pull, sign, list
    Signer,
    /// pull, delete, list
    Deleter,
    /// everything on its repositories except quarantine and admin
    Owner,
    /// pull, list, quarantine
    Scanner,
    /// everything
    Admin,
    Custom {
        name: String,
        actions: ActionSet,
    },
}

impl Role {
    pub const BUILT_IN: [Role; 7] = [
        Role::Reader,
        Role::Contributor,
        Role::Signer,
        Role::Deleter,
        Role::Owner,
        Role::Scanner,
        Role::Admin,
    ];

    pub fn actions(&self) -> ActionSet {
        use Action::*;
        let set = |a: &[Action]| a.iter().copied().collect();
        match self {
            Role::Reader => set(&[Pull, List]),
            Role::Contributor => set(&[Pull, Push, List]),
            Role::Signer => set(&[Pull, Sign, List]),
            Role::Deleter => set(&[Pull, Delete, List]),
            Role::Owner => set(&[Pull, Push, Delete, Sign, List, Metadata]),
            Role::Scanner => set(&[Pull, List, Quarantine]),
            Role::Admin => ActionSet::all(),
            Role::Custom { actions, .. } => *actions,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Role::Reader => "reader",
            Role::Contributor => "contributor",
            Role::Signer => "signer",
            Role::Deleter => "deleter",
            Role::Owner => "owner",
            Role::Scanner => "scanner",
            Role::Admin => "admin",
            Role::Custom { name, .. } => name,
        }
    }

    /// A built-in role by name.
    pub fn built_in(name: &str) -> Option<Role> {
        Role::BUILT_IN.into_iter().find(|r| r.name() == name)
    }
}

/// Who a binding is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Principal {
    User(String),
    Group(String),
    Token(String),
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::User(n) => write!(f, "user:{n}"),
            Principal::Group(n) => write!(f, "group:{n}"),
            Principal::Token(n) => write!(f, "token:{n}"),
        }
    }
}

impl Principal {
    /// Parses `user:NAME`, `group:NAME` or `token:NAME`.
    pub fn parse(s: &str) -> Option<Principal> {
        let (kind, name) = s.split_once(':')?;
        if name.is_empty() {
            return None;
        }
        let name = name.to_owned();
        match kind {
            "user" => Some(Principal::User(name)),
            "group" => Some(Principal::Group(name)),
            "token" => Some(Principal::Token(name)),
            _ => None,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Principal::User(n) | Principal::Group(n) | Principal::Token(n) => n,
        }
    }
}

/// `principal` holds `role` on the repositories `pattern` matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub principal: Principal,
    pub pattern: RepoPattern,
    pub role: Role,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identity {
    /// The user or token name, for audit.
    pub name: String,
    /// The principals whose bindings apply (a user and its groups, or a token).
    pub principals: Vec<Principal>,
    /// Rights held directly, without a binding (a service token's scopes).
    pub grants: Vec<Scope>,
    /// When set, nothing outside these scopes is allowed, whatever the bindings say
    /// (a personal access token narrows its user; a Docker token carries what was
    /// granted at issue).
    pub limit: Option<Vec<Scope>>,
    /// The scopes of the Bearer token the request came with, when it came with one:
    /// nothing outside them is allowed either. With `limit`, a request gets at most
    /// the token's scopes ∩ what its subject may do now.
    pub issued: Option<Vec<Scope>>,
}

/// What a decision is about: one repository, or the registry as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    Repository(&'a RepositoryName),
    Registry,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Why, for the audit log (never shown to an unauthorized caller).
    pub reason: String,
}

fn scope_grants(scope: &Scope, action: Action, target: Target<'_>) -> bool {
    if !scope.actions.contains(action) {
        return false;
    }
    match (&scope.resource, target) {
        (Resource::Repository(p), Target::Repository(r)) => p.matches(r),
        (Resource::Repository(p), Target::Registry) => *p == RepoPattern::everything(),
        (Resource::Catalog, Target::Registry) => action == Action::List,
        (Resource::Catalog, Target::Repository(_)) => false,
    }
}

fn binding_grants(b: &Binding, action: Action, target: Target<'_>) -> bool {
    if !b.role.actions().contains(action) {
        return false;
    }
    match target {
        Target::Repository(r) => b.pattern.matches(r),
        // Registry-wide actions need a binding on everything.
        Target::Registry => b.pattern == RepoPattern::everything(),
    }
}

/// The one authorization decision. Nothing is allowed by default: a right comes from
/// a binding of one of the identity's principals or from a grant it holds, and an
/// identity with a limit never exceeds it.
pub fn authorize(
    identity: &Identity,
    bindings: &[Binding],
    action: Action,
    target: Target<'_>,
) -> Decision {
    let what = match target {
        Target::Repository(r) => format!("{action} on {r}"),
        Target::Registry => format!("{action} on the registry"),
    };
    for limit in [&identity.limit, &identity.issued].into_iter().flatten() {
        if !limit.iter().any(|s| scope_grants(s, action, target)) {
            return Decision {
                allowed: false,
                reason: format!("{what}: outside the token's scopes"),
            };
        }
    }
    if let Some(s) = identity
        .grants
        .iter()
        .find(|s| scope_grants(s, action, target))
    {
        return Decision {
            allowed: true,
            reason: format!("{what}: granted by scope {s}"),
        };
    }
    if let Some(b) = bindings
        .iter()
        .find(|b| identity.principals.contains(&b.principal) && binding_grants(b, action, target))
    {
        return Decision {
            allowed: true,
            reason: format!(
                "{what}: {} is {} on {}",
                b.principal,
                b.role.name(),
                b.pattern
            ),
        };
    }
    Decision {
        allowed: false,
        reason: format!("{what}: no binding or scope allows it"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(s: &str) -> RepositoryName {
        RepositoryName::parse(s).unwrap()
    }

    fn user(name: &str) -> Identity {
        Identity {
            name: name.into(),
            principals: vec![Principal::User(name.into())],
            ..Identity::default()
        }
    }

    /// Every built-in role × every action × in and out of the bound pattern.
    #[test]
    fn role_action_scope_matrix() {
        let inside = repo("team/app");
        let outside = repo("other/app");
        let nested = repo("team/app/sub");
        for role in Role::BUILT_IN {
            let bindings = vec![Binding {
                principal: Principal::User("alice".into()),
                pattern: RepoPattern::parse("team/*").unwrap(),
                role: role.clone(),
            }];
            let alice = user("alice");
            let bob = user("bob");
            for action in Action::ALL {
                let expected = role.actions().contains(action);
                let d = authorize(&alice, &bindings, action, Target::Repository(&inside));
                assert_eq!(
                    d.allowed,
                    expected,
                    "{} {action} inside: {}",
                    role.name(),
                    d.reason
                );
                for r in [&outside, &nested] {
                    let d = authorize(&alice, &bindings, action, Target::Repository(r));
                    assert!(!d.allowed, "{} {action} on {r}: {}", role.name(), d.reason);
                }
                let d = authorize(&alice, &bindings, action, Target::Registry);
                assert!(
                    !d.allowed,
                    "{} {action} registry-wide from team/*",
                    role.name()
                );
                let d = authorize(&bob, &bindings, action, Target::Repository(&inside));
                assert!(!d.allowed, "another user never inherits {}", role.name());
            }
        }
    }

    #[test]
    fn expected_role_contents() {
        use Action::*;
        let has = |r: Role, a: Action| r.actions().contains(a);
        assert!(has(Role::Reader, Pull) && !has(Role::Reader, Push));
        assert!(has(Role::Contributor, Push) && !has(Role::Contributor, Delete));
        assert!(has(Role::Signer, Sign) && !has(Role::Signer, Push));
        assert!(has(Role::Deleter, Delete) && !has(Role::Deleter, Push));
        assert!(!has(Role::Owner, Admin) && !has(Role::Owner, Quarantine));
        assert!(has(Role::Scanner, Quarantine) && !has(Role::Scanner, Push));
        assert_eq!(Role::Admin.actions(), ActionSet::all());
    }

    #[test]
    fn admin_on_everything_decides_registry_wide() {
        let bindings = vec![Binding {
            principal: Principal::User("root".into()),
            pattern: RepoPattern::everything(),
            role: Role::Admin,
        }];
        for action in Action::ALL {
            assert!(authorize(&user("root"), &bindings, action, Target::Registry).allowed);
            assert!(
                authorize(
                    &user("root"),
                    &bindings,
                    action,
                    Target::Repository(&repo("x/y/z"))
                )
                .allowed
            );
        }
    }

    #[test]
    fn groups_and_custom_roles() {
        let bindings = vec![Binding {
            principal: Principal::Group("release".into()),
            pattern: RepoPattern::parse("prod/**").unwrap(),
            role: Role::Custom {
                name: "promoter".into(),
                actions: ActionSet::parse_list("pull,metadata").unwrap(),
            },
        }];
        let mut carol = user("carol");
        carol.principals.push(Principal::Group("release".into()));
        let r = repo("prod/web/api");
        assert!(authorize(&carol, &bindings, Action::Metadata, Target::Repository(&r)).allowed);
        assert!(!authorize(&carol, &bindings, Action::Push, Target::Repository(&r)).allowed);
        assert!(
            !authorize(
                &user("dave"),
                &bindings,
                Action::Pull,
                Target::Repository(&r)
            )
            .allowed
        );
    }

    #[test]
    fn a_bearer_token_grants_at_most_its_scopes_and_the_subjects_current_rights() {
        let bindings = vec![Binding {
            principal: Principal::User("alice".into()),
            pattern: RepoPattern::parse("team/*").unwrap(),
            role: Role::built_in("contributor").unwrap(),
        }];
        let alice = Identity {
            issued: Some(vec![Scope::parse("repository:team/app:pull,push").unwrap()]),
            ..user("alice")
        };
        let app = repo("team/app");
        assert!(authorize(&alice, &bindings, Action::Push, Target::Repository(&app)).allowed);
        // Outside the token's scopes, though alice may.
        assert!(
            !authorize(
                &alice,
                &bindings,
                Action::Push,
                Target::Repository(&repo("team/lib"))
            )
            .allowed
        );
        // Inside the token's scopes, but alice may no longer (her role was unbound).
        assert!(!authorize(&alice, &[], Action::Push, Target::Repository(&app)).allowed);
    }

    #[test]
    fn service_token_scopes() {
        let ci = Identity {
            name: "ci".into(),
            principals: vec![Principal::Token("ci".into())],
            grants: vec![Scope::parse("repository:ci/*:pull,push").unwrap()],
            limit: None,
            issued: None,
        };
        assert!(authorize(&ci, &[], Action::Push, Target::Repository(&repo("ci/app"))).allowed);
        assert!(
            !authorize(
                &ci,
                &[],
                Action::Delete,
                Target::Repository(&repo("ci/app"))
            )
            .allowed
        );
        assert!(
            !authorize(
                &ci,
                &[],
                Action::Pull,
                Target::Repository(&repo("prod/app"))
            )
            .allowed
        );
        assert!(!authorize(&ci, &[], Action::List, Target::Registry).allowed);
    }

    #[test]
    fn a_limit_narrows_even_an_admin() {
        let bindings = vec![Binding {
            principal: Principal::User("root".into()),
            pattern: RepoPattern::everything(),
            role: Role::Admin,
        }];
        let mut pat = user("root");
        pat.limit = Some(vec![Scope::parse("repository:team/app:pull").unwrap()]);
        let r = repo("team/app");
        assert!(authorize(&pat, &bindings, Action::Pull, Target::Repository(&r)).allowed);
        assert!(!authorize(&pat, &bindings, Action::Push, Target::Repository(&r)).allowed);
        assert!(
            !authorize(
                &pat,
                &bindings,
                Action::Pull,
                Target::Repository(&repo("team/x"))
            )
            .allowed
        );
        assert!(!authorize(&pat, &bindings, Action::Admin, Target::Registry).allowed);
    }
}
