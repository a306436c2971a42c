//! Which function serves which route. `template.yaml`, the function binaries and the local server
//! all agree with this table (checked by `tests/routes_agree.rs`).

/// `(function, route key)` for every HTTP route that exists today.
pub const ROUTES: &[(&str, &str)] = &[
    ("signup", "POST /auth/signup"),
    ("verify-otp", "POST /auth/signup/verify"),
    ("verify-otp", "POST /auth/signup/resend"),
    ("token", "POST /auth/token"),
    ("token", "POST /auth/token/refresh"),
    ("token", "POST /auth/logout"),
    ("token", "POST /auth/logout-all"),
    ("reset", "POST /auth/password/forgot"),
    ("reset", "POST /auth/password/reset"),
    ("reset", "POST /auth/password/change"),
    ("profile", "GET /me"),
    ("profile", "PATCH /me"),
    ("profile", "GET /me/blocks"),
    ("profile", "GET /users"),
    ("profile", "GET /users/{username}"),
    ("profile", "POST /users/{username}/block"),
    ("profile", "DELETE /users/{username}/block"),
    ("ws-ticket", "POST /ws/tickets"),
    ("wallet", "GET /wallet"),
    ("wallet", "GET /wallet/transactions"),
    ("wallet", "GET /wallet/transfers/{id}"),
    ("transfer", "POST /wallet/transfers"),
    ("transfer", "POST /wallet/transfers/{id}/refunds"),
    ("deposit", "POST /wallet/deposits"),
    ("donate", "POST /donate-links"),
    ("donate", "GET /donate-links"),
    ("donate", "GET /donate-links/{id}"),
    ("donate", "DELETE /donate-links/{id}"),
    ("donate", "POST /donate-links/{id}/pay"),
    ("rooms", "POST /rooms"),
    ("rooms", "GET /rooms"),
    ("rooms", "GET /rooms/{id}"),
    ("rooms", "PATCH /rooms/{id}"),
    ("rooms", "DELETE /rooms/{id}"),
    ("rooms", "POST /rooms/{id}/members"),
    ("rooms", "DELETE /rooms/{id}/members/{username}"),
    ("rooms", "PATCH /rooms/{id}/members/{username}"),
    ("rooms", "GET /me/invitations"),
    ("rooms", "POST /me/invitations/{room_id}/accept"),
    ("rooms", "POST /me/invitations/{room_id}/decline"),
    ("messages", "GET /rooms/{id}/messages"),
    ("messages", "POST /rooms/{id}/messages"),
    ("messages", "DELETE /rooms/{id}/messages/{message_id}"),
    ("messages", "PATCH /rooms/{id}/messages/{message_id}"),
    (
        "messages",
        "PUT /rooms/{id}/messages/{message_id}/reactions/{emoji}",
    ),
    (
        "messages",
        "DELETE /rooms/{id}/messages/{message_id}/reactions/{emoji}",
    ),
    ("messages", "GET /rooms/{id}/pins"),
    ("messages", "PUT /rooms/{id}/pins/{message_id}"),
    ("messages", "DELETE /rooms/{id}/pins/{message_id}"),
    ("messages", "POST /rooms/{id}/read"),
    ("upload-url", "POST /uploads"),
];

/// `(function, route key)` of the WebSocket API. Routes are selected on the frame's `action`
/// (`$request.body.action`); any other action, or a frame without one, goes to `$default`.
pub const WS_ROUTES: &[(&str, &str)] = &[
    ("ws-connect", "$connect"),
    ("ws-disconnect", "$disconnect"),
    ("ws-message", "$default"),
    ("ws-message", "ping"),
    ("ws-message", "send"),
    ("ws-message", "typing"),
    ("ws-message", "read"),
    ("ws-message", "delete"),
    ("ws-message", "edit"),
    ("ws-message", "transfer"),
];

/// The WebSocket route a frame with this `action` is selected for.
pub fn ws_route_for(action: Option<&str>) -> &'static str {
    WS_ROUTES
        .iter()
        .map(|(_, key)| *key)
        .find(|key| !key.starts_with('$') && Some(*key) == action)
        .unwrap_or("$default")
}

/// The function behind a WebSocket route key.
pub fn ws_function_of(route_key: &str) -> Option<&'static str> {
    WS_ROUTES
        .iter()
        .find(|(_, key)| *key == route_key)
        .map(|(f, _)| *f)
}

/// The function that serves a route key.
pub fn function_of(route_key: &str) -> Option<&'static str> {
    ROUTES
        .iter()
        .find(|(_, key)| *key == route_key)
        .map(|(f, _)| *f)
}

/// Matches a method and concrete path against the table: the route key and its path parameters.
pub fn match_route(method: &str, path: &str) -> Option<(&'static str, Vec<(String, String)>)> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    ROUTES.iter().find_map(|(_, key)| {
        let (m, template) = key.split_once(' ')?;
        if !m.eq_ignore_ascii_case(method) {
            return None;
        }
        let parts: Vec<&str> = template.split('/').collect();
        if parts.len() != segments.len() {
            return None;
        }
        let mut params = Vec::new();
        for (t, s) in parts.iter().zip(&segments) {
            if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                if s.is_empty() {
                    return None;
                }
                params.push((name.to_owned(), (*s).to_owned()));
            } else if t != s {
                return None;
            }
        }
        Some((*key, params))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concrete_paths_match_their_templates() {
        let (key, params) = match_route("POST", "/users/alice/block").unwrap();
        assert_eq!(key, "POST /users/{username}/block");
        assert_eq!(params, vec![("username".to_owned(), "alice".to_owned())]);
        assert_eq!(match_route("GET", "/me").unwrap().0, "GET /me");
        assert_eq!(
            match_route("GET", "/me/blocks").unwrap().0,
            "GET /me/blocks"
        );
        assert!(match_route("GET", "/users/").is_some_and(|(k, _)| k == "GET /users"));
    }

    #[test]
    fn frames_select_their_action_route_or_default() {
        assert_eq!(ws_route_for(Some("ping")), "ping");
        assert_eq!(ws_route_for(Some("dance")), "$default");
        assert_eq!(ws_route_for(Some("$connect")), "$default");
        assert_eq!(ws_route_for(None), "$default");
        assert_eq!(ws_function_of("ping"), Some("ws-message"));
    }

    #[test]
    fn unknown_paths_and_methods_do_not_match() {
        assert!(match_route("GET", "/auth/token").is_none());
        assert!(match_route("GET", "/nope").is_none());
    }
}
