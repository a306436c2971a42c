//! The web app in a real headless Chromium (chromedriver + `fantoccini`), against one local
//! server started in process, as people would use it: two people sign up with the codes from
//! the outbox, open a direct room, chat and see each other typing and reading; a message of
//! markup stays text; one sends money in the chat and the other's wallet moves; a file goes
//! through the storage and comes back byte for byte; a donate link is paid from a third
//! session; a refused session goes to login and comes back to its draft; an unreachable API
//! shows a banner that goes away when it is back. Screenshots land in `target/screenshots/`
//! and the performance figures are printed (docs/PERFORMANCE.md).
//!
//! One chromedriver, one server and a few sessions for the whole run: one test, in steps.

mod browser_support;

use browser_support::{Browser, Http, PASSWORD, Relay, chromedriver, median, screenshots_dir};
use chatman_local::{LocalConfig, start};
use serde_json::{Value, json};
use std::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_web_app_works_in_a_real_browser() {
    let driver = chromedriver().await;
    let mut config = LocalConfig::embedded();
    config.admins = "root".into();
    let running = start(config).await.expect("the local server starts");
    let base = running.http_url();
    let http = Http::new(&base);
    let root = http.person("root").await;
    let started = Instant::now();
    let step = |what: &str| println!("[{:>6.1}s] {what}", started.elapsed().as_secs_f64());

    step("alice and bob sign up in their browsers with the codes from the outbox");
    let alice = Browser::open(&driver, &base, "alice").await;
    let bob = Browser::open(&driver, &base, "bob").await;
    sign_up(&alice, &http, "alice", true).await;
    sign_up(&bob, &http, "bob", false).await;
    alice.shot("01-chat-list-empty").await;

    step("alice finds bob and opens a direct room");
    alice.click("new-chat").await;
    alice
        .find("user-search")
        .await
        .send_keys("bo")
        .await
        .expect("typing");
    alice
        .find_css("[data-testid=user-result][data-username=bob]")
        .await;
    alice.shot("02-new-chat").await;
    alice.click("user-result").await;
    alice
        .until(
            "the room opens",
            "document.querySelector('[data-testid=messages]')?.dataset.ready",
        )
        .await;
    assert_eq!(alice.text("room-name").await, "bob");

    step("alice writes; bob's chat list shows it live with an unread count");
    send_message(&alice, "hi Bob").await;
    bob.until("bob's list shows the room with 1 unread",
        "document.querySelector('[data-testid=chat-item] [data-testid=unread-count]')?.textContent === '1'").await;
    assert_eq!(bob.text("chat-last").await, "hi Bob");
    bob.shot("03-chat-list-unread").await;

    step("bob opens the room; each sees the other typing; alice sees bob read her message");
    bob.click("chat-item").await;
    bob.until("bob sees alice's message", "[...document.querySelectorAll('[data-testid=message-text]')].some(e => e.textContent === 'hi Bob')").await;
    alice
        .until(
            "alice sees 'Seen by bob'",
            "document.querySelector('[data-testid=seen-by]')?.textContent === 'Seen by bob'",
        )
        .await;
    bob.find("composer-input")
        .await
        .send_keys("hello Al")
        .await
        .expect("typing");
    alice.until("alice sees bob typing", "document.querySelector('[data-testid=typing-indicator]').textContent === 'bob is typing…'").await;
    alice.shot("04-room-typing").await;
    alice
        .find("composer-input")
        .await
        .send_keys("so")
        .await
        .expect("typing");
    bob.until("bob sees alice typing", "document.querySelector('[data-testid=typing-indicator]').textContent === 'alice is typing…'").await;
    bob.find("composer-input")
        .await
        .send_keys("ice\u{E007}")
        .await
        .expect("Enter sends");
    alice.until("alice gets bob's answer", "[...document.querySelectorAll('[data-testid=message-text]')].some(e => e.textContent === 'hello Alice')").await;
    alice
        .until(
            "and bob's typing stops",
            "document.querySelector('[data-testid=typing-indicator]').textContent === ''",
        )
        .await;
    alice.js("const i = document.querySelector('[data-testid=composer-input]'); i.value = ''; i.dispatchEvent(new Event('input'));", vec![]).await;

    step("markup in a message is shown as text: no element, no script");
    let markup = "<img src=x onerror=alert(1)>";
    send_message(&bob, markup).await;
    let shown = alice.until("alice sees the markup as text",
        "[...document.querySelectorAll('[data-testid=message-text]')].find(e => e.textContent === '<img src=x onerror=alert(1)>')").await;
    assert!(!shown.is_null());
    let injected = alice.js("return document.querySelectorAll('[data-testid=messages] img:not(.thumb), img[src=x]').length + document.querySelectorAll('[data-testid=message-text] *').length;", vec![]).await;
    assert_eq!(injected, json!(0), "markup in a message became elements");
    assert!(
        alice.client.get_alert_text().await.is_err(),
        "an alert opened"
    );
    alice.shot("05-room-markup-as-text").await;

    step(
        "bob edits that message; alice's screen shows the new text (markup still text), marked edited, live",
    );
    const MINE: &str = "[...document.querySelectorAll('[data-testid=message].mine')].find(e => e.querySelector('[data-testid=message-text]')?.textContent === '<img src=x onerror=alert(1)>')";
    bob.until("bob's message is on his screen", MINE).await;
    bob.js(
        &format!("{MINE}.querySelector('[data-testid=edit-message]').click();"),
        vec![],
    )
    .await;
    bob.fill("edit-form", "text", "<b>see you at 6</b>").await;
    bob.click("edit-save").await;
    const EDITED: &str = "e.querySelector('[data-testid=message-text]')?.textContent === '<b>see you at 6</b>' && !e.querySelector('[data-testid=message-edited]').hidden";
    bob.until(
        "bob's own view shows the edit",
        &format!(
            "[...document.querySelectorAll('[data-testid=message].mine')].some(e => {EDITED})"
        ),
    )
    .await;
    alice
        .until(
            "alice sees the edit live, marked edited",
            &format!(
                "[...document.querySelectorAll('[data-testid=message].theirs')].some(e => {EDITED})"
            ),
        )
        .await;
    let stale = alice.js("return [...document.querySelectorAll('[data-testid=message-text]')].filter(e => e.textContent.includes('onerror')).length + document.querySelectorAll('[data-testid=message-text] *').length;", vec![]).await;
    assert_eq!(
        stale,
        json!(0),
        "the old text stayed on alice's screen, or the edit became markup"
    );
    let theirs_editable = alice.js("return document.querySelectorAll('[data-testid=message].theirs [data-testid=edit-message]').length;", vec![]).await;
    assert_eq!(
        theirs_editable,
        json!(0),
        "alice is offered an edit of bob's message"
    );
    alice.shot("19-room-edited").await;

    step(
        "alice replies to that message: both screens show the quote; once bob deletes the original, the quote says so",
    );
    const THEIRS_EDITED: &str = "[...document.querySelectorAll('[data-testid=message].theirs')].find(e => e.querySelector('[data-testid=message-text]')?.textContent === '<b>see you at 6</b>')";
    alice
        .js(
            &format!("{THEIRS_EDITED}.querySelector('[data-testid=reply-message]').click();"),
            vec![],
        )
        .await;
    alice
        .until(
            "the reply bar names what is answered",
            "!document.querySelector('[data-testid=reply-bar]').hidden && document.querySelector('[data-testid=reply-bar-text]').textContent.includes('<b>see you at 6</b>')",
        )
        .await;
    alice.fill("composer", "text", "sounds good").await;
    alice.click("send-button").await;
    const REPLY: &str = "[...document.querySelectorAll('[data-testid=message]')].find(e => e.querySelector('[data-testid=message-text]')?.textContent === 'sounds good')";
    const QUOTED: &str = "?.querySelector('[data-testid=message-quote] [data-testid=quote-text]')?.textContent === '<b>see you at 6</b>'";
    alice
        .until(
            "alice's reply carries the quote",
            &format!("{REPLY}{QUOTED} && document.querySelector('[data-testid=reply-bar]').hidden"),
        )
        .await;
    bob.until(
        "bob sees the reply live, quoting him",
        &format!("{REPLY}{QUOTED}"),
    )
    .await;
    bob.shot("21-room-reply").await;
    const MINE_EDITED: &str = "[...document.querySelectorAll('[data-testid=message].mine')].find(e => e.querySelector('[data-testid=message-text]')?.textContent === '<b>see you at 6</b>')";
    bob.js(
        &format!("{MINE_EDITED}.querySelector('[data-testid=delete-message]').click();"),
        vec![],
    )
    .await;
    alice
        .until(
            "the quote on alice's screen says the original was deleted",
            &format!("{REPLY}?.querySelector('[data-testid=message-quote]').dataset.deleted === 'true' && !{REPLY}.querySelector('[data-testid=message-quote]').textContent.includes('see you')"),
        )
        .await;
    alice.client.refresh().await.expect("reloading the room");
    alice
        .until(
            "after a reload, history says the same",
            &format!(
                "{REPLY}?.querySelector('[data-testid=message-quote]')?.dataset.deleted === 'true'"
            ),
        )
        .await;

    step(
        "bob reacts to alice's reply from the picker; alice sees it live and adds hers: one chip, count 2, after a reload too",
    );
    const THUMB: &str = "?.querySelector('[data-testid=reaction][data-emoji=\"👍\"]')";
    bob.js(
        &format!(
            "{REPLY}.querySelector('[data-testid=add-reaction]').click(); \
             {REPLY}.querySelector('[data-testid=reaction-picker]:not([hidden]) [data-testid=pick-reaction][data-emoji=\"👍\"]').click();"
        ),
        vec![],
    )
    .await;
    bob.until(
        "bob's chip is his",
        &format!("{REPLY}{THUMB}?.dataset.count === '1' && {REPLY}{THUMB}.getAttribute('aria-pressed') === 'true'"),
    )
    .await;
    alice
        .until(
            "alice sees bob's reaction live, not hers",
            &format!("{REPLY}{THUMB}?.dataset.count === '1' && {REPLY}{THUMB}.getAttribute('aria-pressed') === 'false'"),
        )
        .await;
    alice.js(&format!("{REPLY}{THUMB}.click();"), vec![]).await;
    const TWO_MINE: &str = "?.dataset.count === '2' && document.querySelectorAll('[data-testid=reaction]').length === 1";
    alice
        .until(
            "alice's click makes it two, hers among them",
            &format!(
                "{REPLY}{THUMB}{TWO_MINE} && {REPLY}{THUMB}.getAttribute('aria-pressed') === 'true'"
            ),
        )
        .await;
    bob.until("bob sees two, live", &format!("{REPLY}{THUMB}{TWO_MINE}"))
        .await;
    alice.shot("22-room-reactions").await;
    bob.client.refresh().await.expect("reloading the room");
    bob.until(
        "after a reload bob's history says two, his among them",
        &format!(
            "{REPLY}{THUMB}{TWO_MINE} && {REPLY}{THUMB}.getAttribute('aria-pressed') === 'true'"
        ),
    )
    .await;

    step(
        "alice pins bob's greeting: the pinned bar shows it on both screens, live; after she unpins it, it goes from bob's",
    );
    const HELLO: &str = "[...document.querySelectorAll('[data-testid=message]')].find(e => e.querySelector('[data-testid=message-text]')?.textContent === 'hello Alice')";
    alice
        .until(
            "alice may pin",
            &format!("{HELLO}?.querySelector('[data-testid=pin-message]')?.textContent === 'Pin'"),
        )
        .await;
    alice
        .js(
            &format!("{HELLO}.querySelector('[data-testid=pin-message]').click();"),
            vec![],
        )
        .await;
    const BAR: &str = "!document.querySelector('[data-testid=pinned-bar]').hidden && document.querySelector('[data-testid=pinned-text]').textContent === 'bob: hello Alice'";
    alice
        .until("alice's bar shows the pin, her link says Unpin", &format!("{BAR} && {HELLO}.querySelector('[data-testid=pin-message]').textContent === 'Unpin'"))
        .await;
    bob.until("bob's bar shows it live", BAR).await;
    bob.shot("23-room-pinned").await;
    alice
        .js(
            &format!("{HELLO}.querySelector('[data-testid=pin-message]').click();"),
            vec![],
        )
        .await;
    bob.until(
        "the bar goes from bob's screen",
        "document.querySelector('[data-testid=pinned-bar]').hidden",
    )
    .await;

    step("a message typed in one browser appears in the other: p50 over 20");
    let mut latencies = Vec::new();
    for i in 0..20 {
        let text = format!("ping {i}");
        let sent_at = alice.js(
            "const i = document.querySelector('[data-testid=composer-input]'); i.value = arguments[0]; \
             const t = performance.timeOrigin + performance.now(); \
             document.querySelector('[data-testid=composer]').requestSubmit(); return t;",
            vec![json!(text)],
        ).await.as_f64().expect("a time");
        let shown_at = bob.until("bob sees the ping", &format!(
            "(() => {{ const el = [...document.querySelectorAll('[data-testid=message]')].find(e => e.querySelector('[data-testid=message-text]')?.textContent === 'ping {i}'); \
              if (!el) return null; const m = performance.getEntriesByName('message-shown:' + el.dataset.id)[0]; \
              return m ? performance.timeOrigin + m.startTime : null; }})()"
        )).await.as_f64().expect("a time");
        latencies.push(shown_at - sent_at);
    }
    let message_p50 = median(latencies.clone());
    println!(
        "message typed in alice's browser shown in bob's: p50 {message_p50:.1} ms (min {:.1}, max {:.1})",
        latencies.iter().copied().fold(f64::MAX, f64::min),
        latencies.iter().copied().fold(0.0, f64::max)
    );

    step("history scrolls back by cursor; bob deletes a message and it goes from alice's screen");
    let room_id = alice
        .js(
            "return decodeURIComponent(location.hash.split('/')[2]);",
            vec![],
        )
        .await
        .as_str()
        .expect("the room id in the URL")
        .to_owned();
    let bob_token = http.login("bob").await;
    for i in 0..8 {
        let (status, _) = http
            .call(
                "POST",
                &format!("/rooms/{room_id}/messages"),
                Some(json!({"text": format!("filler {i}")})),
                Some(&bob_token),
                None,
            )
            .await;
        assert_eq!(status, 201);
    }
    alice.client.refresh().await.expect("reloading the room");
    alice
        .until(
            "the newest page",
            "document.querySelectorAll('[data-testid=message]').length === 30",
        )
        .await;
    alice
        .until(
            "older messages are offered",
            "!document.querySelector('[data-testid=load-older]').hidden",
        )
        .await;
    alice
        .js(
            "document.querySelector('[data-testid=scroller]').scrollTop = 0;",
            vec![],
        )
        .await;
    alice
        .until("the first message comes back", "[...document.querySelectorAll('[data-testid=message-text]')].some(e => e.textContent === 'hi Bob') && document.querySelector('[data-testid=load-older]').hidden")
        .await;
    assert_eq!(
        alice
            .js(
                "return document.querySelectorAll('[data-testid=message]').length;",
                vec![]
            )
            .await,
        json!(31)
    );
    bob.until("bob has the fillers", "[...document.querySelectorAll('[data-testid=message-text]')].some(e => e.textContent === 'filler 7')")
        .await;
    bob.js(
        "[...document.querySelectorAll('[data-testid=message]')].find(m => m.querySelector('[data-testid=message-text]')?.textContent === 'filler 7').querySelector('[data-testid=delete-message]').click();",
        vec![],
    )
    .await;
    alice
        .until("the deleted message leaves alice's screen", "![...document.querySelectorAll('[data-testid=message-text]')].some(e => e.textContent === 'filler 7')")
        .await;

    step(
        "bob's socket drops: the app reconnects with a fresh ticket and catches up with after_seq",
    );
    let (_, me) = http.call("GET", "/me", None, Some(&bob_token), None).await;
    let bob_id =
        chatman::domain::UserId::parse(me["id"].as_str().expect("an id")).expect("a user id");
    let sockets = running
        .connections
        .connections_of(&bob_id, time::OffsetDateTime::now_utc())
        .await
        .expect("bob's connections");
    assert_eq!(sockets.len(), 1, "bob's browser holds one socket");
    let management = Http::new(&format!("http://{}", running.ws_addr));
    for socket in sockets {
        let path = format!("/@connections/{}", socket.id.as_str().replace('=', "%3D"));
        let (status, _) = management.call("DELETE", &path, None, None, None).await;
        assert_eq!(status, 204, "closing bob's socket");
    }
    bob.until(
        "bob's app sees the drop",
        "document.documentElement.dataset.ws === 'closed'",
    )
    .await;
    // More than a page (30) while the socket is closed, from both people: the app fetches them
    // with `after_seq` after it reconnects, oldest first, and shows each once, in order.
    let alice_token = http.login("alice").await;
    for i in 0..32 {
        let token = if i % 2 == 0 { &alice_token } else { &bob_token };
        let (status, _) = http
            .call(
                "POST",
                &format!("/rooms/{room_id}/messages"),
                Some(json!({"text": format!("away {i}"), "client_id": format!("away-{i}")})),
                Some(token),
                None,
            )
            .await;
        assert_eq!(status, 201);
    }
    bob.until("bob catches up", "[...document.querySelectorAll('[data-testid=message-text]')].some(e => e.textContent === 'away 31')").await;
    bob.until(
        "on a new socket",
        "document.documentElement.dataset.ws === 'open'",
    )
    .await;
    let caught_up = bob
        .js(
            "const all = [...document.querySelectorAll('[data-testid=message]')]; \
             const ids = all.map(m => m.dataset.id); \
             const away = all.map(m => m.querySelector('[data-testid=message-text]')?.textContent).filter(t => t?.startsWith('away ')); \
             return {away, unique: new Set(ids).size === ids.length, deleted_back: all.some(m => m.querySelector('[data-testid=message-text]')?.textContent === 'filler 7')};",
            vec![],
        )
        .await;
    let expected: Vec<String> = (0..32).map(|i| format!("away {i}")).collect();
    assert_eq!(
        caught_up["away"],
        json!(expected),
        "every missed message, in order, once"
    );
    assert_eq!(caught_up["unique"], json!(true), "no message twice");
    assert_eq!(
        caught_up["deleted_back"],
        json!(false),
        "the deleted one stays deleted"
    );

    step("bob makes a donate link; carol, in a third browser, pays it; bob's balance moves");
    bob.click("nav-wallet").await;
    bob.fill("donate-form", "description", "coffee fund").await;
    bob.click("create-donate").await;
    let link = bob
        .until(
            "the link is listed",
            "document.querySelector('[data-testid=donate-url]')?.value",
        )
        .await;
    let link = link.as_str().expect("a url").to_owned();
    bob.js(
        "document.querySelector('[data-testid=donate-link]').scrollIntoView({block: 'end'});",
        vec![],
    )
    .await;
    bob.shot("09-wallet-donate-link").await;
    let carol = Browser::open(&driver, &base, "carol").await;
    // A taken username is refused in words, under the username field.
    carol.goto("/signup").await;
    carol.fill("signup-form", "username", "bob").await;
    carol
        .fill("signup-form", "email", "carol@example.com")
        .await;
    carol.fill("signup-form", "password", PASSWORD).await;
    carol.click("signup-submit").await;
    carol
        .until("the refusal shows under the username", "document.querySelector('[data-testid=error-username]')?.textContent === 'That username is taken.'")
        .await;
    sign_up(&carol, &http, "carol", false).await;
    // Money enters through an admin: root deposits into carol's wallet from the wallet screen,
    // which shows the deposit form to admins only (carol, not an admin, has none).
    carol.goto("/#/wallet").await;
    carol.find("send-money-form").await;
    assert_eq!(
        carol
            .js(
                "return !!document.querySelector('[data-testid=deposit-form]');",
                vec![]
            )
            .await,
        json!(false),
        "the deposit form is for admins only"
    );
    let admin = Browser::open(&driver, &base, "root").await;
    admin.goto("/").await;
    admin.fill("login-form", "login", "root").await;
    admin.fill("login-form", "password", PASSWORD).await;
    admin.click("login-submit").await;
    admin.find("chat-list").await;
    admin.goto("/#/wallet").await;
    admin.fill("deposit-form", "username", "carol").await;
    admin.fill("deposit-form", "amount", "20").await;
    admin.click("deposit-submit").await;
    admin
        .until(
            "the deposit is confirmed",
            "document.querySelector('[data-testid=deposit-status]')?.textContent.startsWith('Deposited')",
        )
        .await;
    admin.shot("17-admin-deposit").await;
    admin.client.close().await.expect("closing a session");
    let carol_token = http.login("carol").await;
    assert_eq!(
        http.balance(&carol_token).await,
        2000,
        "the deposit landed once"
    );
    let path = link
        .split_once("/donate/")
        .map(|(_, id)| format!("/donate/{id}"))
        .expect("a /donate/ link");
    carol.goto(&path).await;
    carol.fill("donate-pay-form", "amount", "3").await;
    carol.shot("10-donate-page").await;
    carol.click("donate-pay").await;
    let paid = carol
        .until(
            "carol paid",
            "document.querySelector('[data-testid=donate-paid]')?.textContent",
        )
        .await;
    assert!(
        paid.as_str()
            .unwrap_or_default()
            .contains("Paid 3.00 USD to @bob"),
        "{paid}"
    );
    bob.until(
        "bob's balance moves live to 3.00",
        "document.querySelector('[data-testid=wallet-balance]')?.dataset.minor === '300'",
    )
    .await;

    step(
        "bob pays carol from the wallet; the answer is lost once, the retry reuses the key and pays once",
    );
    // The page's fetch loses the first answer of POST /wallet/transfers after the server took it.
    bob.js(
        "window.__keys = []; const real = window.fetch; let lost = false; \
         window.fetch = async (url, init) => { \
           const res = await real(url, init); \
           if (String(url).endsWith('/wallet/transfers')) { \
             window.__keys.push(init.headers['idempotency-key']); \
             if (!lost) { lost = true; throw new TypeError('answer lost'); } } \
           return res; };",
        vec![],
    )
    .await;
    bob.fill("send-money-form", "to", "carol").await;
    bob.fill("send-money-form", "amount", "1").await;
    bob.js(
        "const b = document.querySelector('[data-testid=send-money]'); b.click(); b.click();",
        vec![],
    )
    .await;
    let sent = bob
        .until(
            "the payment went through",
            "document.querySelector('[data-testid=send-money-status]')?.textContent",
        )
        .await;
    assert_eq!(sent, json!("Sent 1.00 USD to @carol."));
    let keys = bob.js("return window.__keys;", vec![]).await;
    let keys = keys.as_array().expect("keys");
    assert_eq!(keys.len(), 2, "one attempt and one retry: {keys:?}");
    assert_eq!(keys[0], keys[1], "the retry reused the attempt's key");
    let carol_token = http.login("carol").await;
    assert_eq!(
        http.balance(&carol_token).await,
        2000 - 300 + 100,
        "carol was paid exactly once"
    );
    bob.until(
        "bob's balance is 2.00",
        "document.querySelector('[data-testid=wallet-balance]')?.dataset.minor === '200'",
    )
    .await;
    bob.goto("/#/wallet").await; // a fresh page: the real fetch again

    step("carol forgets her password and resets it from the emailed link");
    carol.click("nav-profile").await;
    carol.click("logout").await;
    carol.click("to-forgot").await;
    carol
        .fill("forgot-form", "email", "carol@example.com")
        .await;
    carol
        .js(
            "document.querySelector('[data-testid=forgot-form]').requestSubmit();",
            vec![],
        )
        .await;
    carol.find("forgot-sent").await;
    let link = http
        .mail_link("carol@example.com", "/reset-password?token=")
        .await;
    carol
        .client
        .goto(&link)
        .await
        .expect("opening the emailed link");
    carol
        .fill("reset-form", "new_password", "a brand new passphrase")
        .await;
    carol
        .fill("reset-form", "confirm_password", "a brand new passphrase")
        .await;
    carol.shot("15-reset-password").await;
    carol.click("reset-submit").await;
    carol.find("reset-done").await;
    carol.click("to-login").await;
    carol.fill("login-form", "login", "carol").await;
    carol
        .fill("login-form", "password", "a brand new passphrase")
        .await;
    carol.click("login-submit").await;
    carol
        .until(
            "carol is in with her new password",
            "document.querySelector('[data-testid=chat-list]')?.dataset.ready",
        )
        .await;

    step("a socket closed because the session ended elsewhere goes to login with the draft kept");
    let alice_token = http.login("alice").await;
    alice.click("nav-chats").await;
    alice.click("chat-item").await;
    alice
        .until(
            "alice is in the room with her socket open",
            "document.querySelector('[data-testid=messages]')?.dataset.ready && document.documentElement.dataset.ws === 'open'",
        )
        .await;
    alice
        .find("composer-input")
        .await
        .send_keys("my unsent draft")
        .await
        .expect("typing");
    // Logout-all from another session: the server closes the app's socket at once, and the app,
    // without being touched, finds its session gone and goes to login.
    let (status, _) = http
        .call("POST", "/auth/logout-all", None, Some(&alice_token), None)
        .await;
    assert_eq!(status, 204);
    alice.find("login-form").await;
    let notice = alice.text("notice").await;
    assert!(notice.contains("session has ended"), "{notice}");
    alice.shot("11-session-ended-login").await;
    // With the keyboard alone: the login field has focus, Tab moves to the password, Enter submits.
    alice
        .until(
            "the login field has focus",
            "document.activeElement?.name === 'login'",
        )
        .await;
    let focused = alice
        .client
        .active_element()
        .await
        .expect("the focused field");
    focused
        .send_keys("alice\u{E004}")
        .await
        .expect("typing, then Tab");
    let focused = alice
        .client
        .active_element()
        .await
        .expect("the focused field");
    assert_eq!(
        focused.attr("name").await.expect("its name").as_deref(),
        Some("password")
    );
    focused
        .send_keys(&format!("{PASSWORD}\u{E007}"))
        .await
        .expect("typing, then Enter");
    alice
        .until(
            "alice is back in the room with her draft",
            "document.querySelector('[data-testid=composer-input]')?.value === 'my unsent draft'",
        )
        .await;
    assert_eq!(alice.text("room-name").await, "bob");

    step("alice makes a group with bob and carol and makes carol an admin");
    alice.click("nav-chats").await;
    alice.click("new-chat").await;
    alice.fill("group-form", "name", "Climbing").await;
    alice.fill("group-form", "members", "bob, carol").await;
    alice.click("create-group").await;
    alice
        .until(
            "the group opens",
            "document.querySelector('[data-testid=room-name]')?.textContent === 'Climbing'",
        )
        .await;
    alice.click("open-members").await;
    alice
        .until(
            "three members",
            "document.querySelectorAll('[data-testid=member]').length === 3",
        )
        .await;
    alice
        .js(
            "const s = document.querySelector('[data-testid=member-role][data-username=carol]'); \
             s.value = 'admin'; s.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await;
    alice
        .until("carol is admin", "document.querySelector('[data-testid=member-role][data-username=carol]')?.value === 'admin'")
        .await;
    alice.shot("16-group-members").await;
    let carol_token = http.login_with("carol", "a brand new passphrase").await;
    let (_, rooms) = http
        .call("GET", "/rooms", None, Some(&carol_token), None)
        .await;
    let group = rooms["items"]
        .as_array()
        .expect("rooms")
        .iter()
        .find(|r| r["name"] == "Climbing")
        .expect("carol is in the group")
        .clone();
    let (_, room) = http
        .call(
            "GET",
            &format!("/rooms/{}", group["id"].as_str().expect("an id")),
            None,
            Some(&carol_token),
            None,
        )
        .await;
    let carol_role = room["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["user"]["username"] == "carol")
        .map(|m| m["role"].clone());
    assert_eq!(carol_role, Some(json!("admin")));

    step("carol accepts groups only by invitation: alice's group waits for her Join");
    carol.click("nav-profile").await;
    carol
        .js(
            "const s = document.querySelector('[data-testid=group-adds]'); s.value = 'nobody';",
            vec![],
        )
        .await;
    carol.click("profile-save").await;
    carol
        .until(
            "saved",
            "document.querySelector('[data-testid=profile-status]')?.textContent === 'Saved.'",
        )
        .await;
    let (_, me) = http
        .call("GET", "/me", None, Some(&carol_token), None)
        .await;
    assert_eq!(me["group_adds"], "nobody");
    carol.click("nav-chats").await;
    alice.click("nav-chats").await;
    alice.click("new-chat").await;
    alice.fill("group-form", "name", "Hiking").await;
    alice.fill("group-form", "members", "carol").await;
    alice.click("create-group").await;
    alice
        .until(
            "the group opens without carol in it",
            "document.querySelector('[data-testid=room-name]')?.textContent === 'Hiking'",
        )
        .await;
    carol
        .until(
            "carol sees the invitation",
            "[...document.querySelectorAll('[data-testid=invitation-name]')].some(e => e.textContent === 'Hiking')",
        )
        .await;
    assert!(
        carol
            .js(
                "return ![...document.querySelectorAll('[data-testid=chat-name]')].some(e => e.textContent === 'Hiking');",
                vec![],
            )
            .await
            .as_bool()
            .unwrap_or(false),
        "not in her chat list before she joins"
    );
    carol.shot("20-group-invitation").await;
    carol
        .js(
            "[...document.querySelectorAll('[data-testid=invitation]')].find(e => e.querySelector('[data-testid=invitation-name]').textContent === 'Hiking').querySelector('[data-testid=accept-invitation]').click();",
            vec![],
        )
        .await;
    carol
        .until(
            "carol is in the room",
            "document.querySelector('[data-testid=room-name]')?.textContent === 'Hiking'",
        )
        .await;
    carol.click("nav-chats").await;
    carol
        .until(
            "the room is in her chat list and the invitation gone",
            "[...document.querySelectorAll('[data-testid=chat-name]')].some(e => e.textContent === 'Hiking') && document.querySelector('[data-testid=invitations-card]').hidden",
        )
        .await;

    step("profile: a new name and an avatar");
    alice.click("nav-profile").await;
    alice.fill("profile-form", "first_name", "Alice").await;
    alice.click("profile-save").await;
    alice
        .until(
            "saved",
            "document.querySelector('[data-testid=profile-status]')?.textContent === 'Saved.'",
        )
        .await;
    let png = std::env::temp_dir().join(format!("chatman-avatar-{}.png", std::process::id()));
    std::fs::write(&png, tiny_png()).expect("a png");
    alice
        .find("avatar-input")
        .await
        .send_keys(png.to_str().expect("a path"))
        .await
        .expect("choosing it");
    alice.click("avatar-save").await;
    alice
        .until(
            "the avatar shows",
            "document.querySelector('[data-testid=profile-avatar] img')?.complete",
        )
        .await;
    alice.shot("12-profile").await;
    let _ = std::fs::remove_file(&png);

    step("the API goes down: a banner, retries, and it goes away when the API is back");
    let mut relay = Relay::start(running.http_addr).await;
    let dave = Browser::open(&driver, &relay.url(), "dave").await;
    sign_up(&dave, &http, "dave", false).await;
    relay.cut();
    dave.click("nav-wallet").await;
    let banner = dave.until("the banner shows", "(() => { const b = document.querySelector('[data-testid=api-down-banner]'); return !b.hidden && b.textContent; })()").await;
    assert!(
        banner.as_str().unwrap_or_default().contains("Cannot reach"),
        "{banner}"
    );
    dave.shot("13-api-down").await;
    relay.restore().await;
    dave.until(
        "the banner goes away",
        "document.querySelector('[data-testid=api-down-banner]').hidden",
    )
    .await;
    dave.until(
        "and the wallet loads",
        "document.querySelector('[data-testid=wallet-balance]')?.dataset.minor === '0'",
    )
    .await;

    step("performance: first load to a usable chat list (median of 5), bytes of the first load");
    let mut loads = Vec::new();
    let mut first_load_bytes = 0.0;
    for _ in 0..5 {
        bob.goto("/").await;
        let ready = bob.until("the chat list is ready",
            "(() => { const m = performance.getEntriesByName('chat-list-ready')[0]; return m ? m.startTime : null; })()").await;
        loads.push(ready.as_f64().expect("a time"));
        first_load_bytes = bob.js(
            "const nav = performance.getEntriesByType('navigation')[0]; \
             return performance.getEntriesByType('resource').filter(r => new URL(r.name).origin === location.origin && !r.name.includes('/rooms') && !r.name.includes('/me') && !r.name.includes('/ws/')) \
               .reduce((n, r) => n + r.decodedBodySize, nav.decodedBodySize);",
            vec![],
        ).await.as_f64().expect("bytes");
    }
    bob.shot("14-chat-list").await;
    let app_bytes: usize = chatman_local::web::asset_paths()
        .filter(|p| !p.ends_with(".png"))
        .filter_map(chatman_local::web::asset)
        .map(<[u8]>::len)
        .sum();
    let ready_median = median(loads.clone());
    println!("open to usable chat list: median {ready_median:.1} ms over 5 ({loads:?})");
    println!(
        "first load: {first_load_bytes} bytes of app files (uncompressed); all embedded app files: {app_bytes} bytes"
    );
    assert!(
        first_load_bytes <= 150.0 * 1024.0,
        "the first load is {first_load_bytes} bytes, over 150 KB"
    );
    std::fs::write(
        screenshots_dir().join("../browser-figures.txt"),
        format!("chat_list_ready_median_ms={ready_median:.1}\nchat_list_ready_ms={loads:?}\nfirst_load_bytes={first_load_bytes}\nembedded_app_bytes={app_bytes}\nmessage_p50_ms={message_p50:.1}\nmessage_ms={latencies:?}\n"),
    ).expect("figures");

    step("alice sends money in the chat; bob's wallet shows it live; a double click pays once");
    let (status, _) = http
        .call(
            "POST",
            "/wallet/deposits",
            Some(json!({"username": "alice", "amount": 10000})),
            Some(&root),
            Some("fund-alice"),
        )
        .await;
    assert_eq!(status, 201);
    bob.click("nav-wallet").await;
    bob.until(
        "bob's balance is 2.00",
        "document.querySelector('[data-testid=wallet-balance]')?.dataset.minor === '200'",
    )
    .await;
    alice.click("nav-chats").await;
    open_chat(&alice, "bob").await;
    alice
        .until(
            "alice is in the room",
            "document.querySelector('[data-testid=messages]')?.dataset.ready",
        )
        .await;
    alice.click("open-transfer").await;
    alice.fill("transfer-form", "amount", "5.25").await;
    alice.fill("transfer-form", "description", "lunch").await;
    alice.js("const b = document.querySelector('[data-testid=transfer-submit]'); b.click(); b.click();", vec![]).await;
    alice.until("alice sees the transfer in the room", "[...document.querySelectorAll('[data-testid=message-transfer]')].some(e => e.textContent.includes('5.25 USD'))").await;
    alice
        .until(
            "the form says it was sent",
            "document.querySelector('[data-testid=transfer-status]')?.dataset.done",
        )
        .await;
    alice.shot("06-room-money-sent").await;
    bob.until(
        "bob's balance moves live to 7.25",
        "document.querySelector('[data-testid=wallet-balance]')?.dataset.minor === '725'",
    )
    .await;
    bob.shot("07-wallet-received").await;
    let alice_token = http.login("alice").await;
    assert_eq!(
        http.balance(&alice_token).await,
        10000 - 525,
        "a double click paid twice"
    );

    step("bob gives 1.25 of alice's 5.25 back from his history; both balances move once");
    const LUNCH: &str = "[...document.querySelectorAll('[data-testid=wallet-entry][data-kind=transfer][data-direction=in]')].find(e => e.textContent.includes('5.25 USD'))";
    bob.until(
        "the lunch is in bob's history",
        &format!("{LUNCH}?.querySelector('[data-testid=refund-open]')"),
    )
    .await;
    bob.js(
        &format!("{LUNCH}.querySelector('[data-testid=refund-open]').click();"),
        vec![],
    )
    .await;
    bob.until(
        "the refund form is open, the whole amount offered",
        "document.querySelector('[data-testid=refund-form] [name=amount]')?.value === '5.25'",
    )
    .await;
    bob.fill("refund-form", "amount", "1.25").await;
    bob.fill("refund-form", "reason", "you paid for my coffee")
        .await;
    bob.js(
        "const b = document.querySelector('[data-testid=refund-submit]'); b.click(); b.click();",
        vec![],
    )
    .await;
    bob.until(
        "bob's balance is 6.00 after the refund",
        "document.querySelector('[data-testid=wallet-balance]')?.dataset.minor === '600'",
    )
    .await;
    bob.until("the lunch shows what was refunded", &format!("{LUNCH}?.querySelector('[data-testid=entry-refunded]')?.textContent.includes('1.25 USD')")).await;
    bob.until("the refund is in bob's history", "document.querySelector('[data-testid=wallet-entry][data-kind=refund][data-direction=out]')").await;
    bob.shot("18-wallet-refund").await;
    assert_eq!(
        http.balance(&alice_token).await,
        10000 - 525 + 125,
        "a double click refunded twice"
    );

    step("alice sends a file; bob opens it and gets the same bytes");
    alice.click("nav-chats").await;
    open_chat(&alice, "bob").await;
    let file = std::env::temp_dir().join(format!("chatman-browser-{}.txt", std::process::id()));
    let content: Vec<u8> = (0..70_000u32)
        .map(|i| b"chatman file bytes\n"[(i % 19) as usize])
        .collect();
    std::fs::write(&file, &content).expect("a file to send");
    alice
        .find("attach-input")
        .await
        .send_keys(file.to_str().expect("a path"))
        .await
        .expect("choosing the file");
    alice
        .until(
            "the upload finishes",
            "document.querySelector('[data-testid=staged-file]')?.dataset.done",
        )
        .await;
    alice.click("send-button").await;
    bob.click("nav-chats").await;
    open_chat(&bob, "alice").await;
    let href = bob.until("bob sees the file", &format!(
        "[...document.querySelectorAll('[data-testid=message-file-link]')].find(a => a.dataset.filename === '{}')?.href",
        file.file_name().expect("a name").to_string_lossy())).await;
    bob.shot("08-room-file").await;
    let downloaded = bob.client.execute_async(
        "const done = arguments[arguments.length - 1]; fetch(arguments[0]).then(r => r.arrayBuffer()).then(b => done(Array.from(new Uint8Array(b)))).catch(e => done(String(e)));",
        vec![href],
    ).await.expect("downloading in the browser");
    let downloaded: Vec<u8> = serde_json::from_value(downloaded.clone())
        .unwrap_or_else(|_| panic!("not bytes: {downloaded}"));
    assert_eq!(
        downloaded, content,
        "the downloaded file differs from the sent one"
    );
    let _ = std::fs::remove_file(&file);

    step("alice gives the group a picture; bob's chat list shows it");
    let png = std::env::temp_dir().join(format!("chatman-room-{}.png", std::process::id()));
    std::fs::write(&png, tiny_png()).expect("a png");
    alice.click("nav-chats").await;
    open_chat(&alice, "Climbing").await;
    alice.click("open-members").await;
    alice
        .find("room-avatar-input")
        .await
        .send_keys(png.to_str().expect("a path"))
        .await
        .expect("choosing it");
    alice
        .js(
            "document.querySelector('[data-testid=room-settings]').requestSubmit();",
            vec![],
        )
        .await;
    alice
        .until(
            "the room shows its picture",
            "document.querySelector('[data-testid=room-avatar-slot] img')?.complete",
        )
        .await;
    bob.click("nav-chats").await;
    bob.until(
        "bob's list shows the group's picture",
        "[...document.querySelectorAll('[data-testid=chat-item]')].some(b => b.querySelector('[data-testid=chat-name]').textContent === 'Climbing' && b.querySelector('img.avatar')?.complete)",
    )
    .await;
    let _ = std::fs::remove_file(&png);

    for b in [alice, bob, carol, dave] {
        b.client.close().await.expect("closing a session");
    }
    running.stop();
    drop(driver);
}

/// Signs `name` up through the app: the form, the code from the outbox, the chat list.
async fn sign_up(browser: &Browser, http: &Http, name: &str, screenshots: bool) {
    browser.goto("/").await;
    browser.find("login-form").await;
    if screenshots {
        browser.shot("00-login").await;
    }
    browser.click("to-signup").await;
    browser.fill("signup-form", "username", name).await;
    browser
        .fill("signup-form", "email", &format!("{name}@example.com"))
        .await;
    browser.fill("signup-form", "password", PASSWORD).await;
    browser.click("signup-submit").await;
    browser.find("code-form").await;
    if screenshots {
        // Asking for the code again at once is refused with Retry-After: shown as a countdown.
        browser.click("resend-code").await;
        let countdown = browser
            .until(
                "the resend countdown",
                "document.querySelector('[data-testid=resend-error]')?.dataset.retryAfter",
            )
            .await;
        assert!(
            countdown
                .as_str()
                .and_then(|s| s.parse::<u32>().ok())
                .is_some_and(|s| s > 0 && s <= 60),
            "{countdown}"
        );
        let text = browser.text("resend-error").await;
        assert!(text.contains("Try again in"), "{text}");
        let disabled = browser
            .js(
                "return document.querySelector('[data-testid=resend-code]').disabled;",
                vec![],
            )
            .await;
        assert_eq!(disabled, json!(true), "the button waits for the countdown");
    }
    let code = http.code_for(&format!("{name}@example.com")).await;
    browser.fill("code-form", "code", &code).await;
    if screenshots {
        browser.shot("00-signup-code").await;
    }
    browser.click("code-submit").await;
    browser
        .until(
            "the chat list shows",
            "document.querySelector('[data-testid=chat-list]')?.dataset.ready",
        )
        .await;
}

/// Opens the chat named `name` from the chat list.
async fn open_chat(browser: &Browser, name: &str) {
    browser
        .until(
            "the chat is listed",
            &format!("[...document.querySelectorAll('[data-testid=chat-item]')].find(b => b.querySelector('[data-testid=chat-name]').textContent === '{name}')"),
        )
        .await;
    browser
        .js(
            "[...document.querySelectorAll('[data-testid=chat-item]')].find(b => b.querySelector('[data-testid=chat-name]').textContent === arguments[0]).click();",
            vec![json!(name)],
        )
        .await;
    browser
        .until(
            "the room opens",
            "document.querySelector('[data-testid=messages]')?.dataset.ready",
        )
        .await;
}

/// Types a message and sends it with the button; waits until the sender sees it stored.
async fn send_message(browser: &Browser, text: &str) {
    let input = browser.find("composer-input").await;
    input.clear().await.expect("clear");
    input.send_keys(text).await.expect("typing");
    browser.click("send-button").await;
    browser.until("the message is stored", &format!(
        "[...document.querySelectorAll('[data-testid=message-text]')].some(e => e.textContent === {})",
        Value::String(text.to_owned())
    )).await;
}

/// A valid 1×1 PNG.
fn tiny_png() -> Vec<u8> {
    const PNG: &[u8] = &[
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f,
        0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8,
        0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00,
        0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
    ];
    PNG.to_vec()
}
