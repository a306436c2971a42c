//! The texts of every email the accounts side sends. Codes and links appear only here and in the
//! mail itself, never in a log line.

use crate::domain::OtpCode;
use crate::ports::Mail;

pub fn signup_code(to: &str, code: &OtpCode) -> Mail {
    let code = code.as_str();
    Mail {
        to: to.to_owned(),
        subject: format!("{code} is your Chatman code"),
        text: format!(
            "Your Chatman verification code is {code}.\n\nIt expires in 10 minutes. If you did not sign up, ignore this email."
        ),
        html: format!(
            "<p>Your Chatman verification code is <strong>{code}</strong>.</p><p>It expires in 10 minutes. If you did not sign up, ignore this email.</p>"
        ),
    }
}

pub fn signup_notice(to: &str, app_url: &str) -> Mail {
    Mail {
        to: to.to_owned(),
        subject: "Someone tried to sign up with your email".to_owned(),
        text: format!(
            "Somebody tried to create a Chatman account with this email, which already has one.\n\nIf it was you, log in instead, or reset your password at {app_url}/forgot-password. If not, you can ignore this email."
        ),
        html: format!(
            "<p>Somebody tried to create a Chatman account with this email, which already has one.</p><p>If it was you, log in instead, or <a href=\"{app_url}/forgot-password\">reset your password</a>. If not, you can ignore this email.</p>"
        ),
    }
}

pub fn reset_link(to: &str, app_url: &str, token: &str) -> Mail {
    let link = format!("{app_url}/reset-password?token={token}");
    Mail {
        to: to.to_owned(),
        subject: "Reset your Chatman password".to_owned(),
        text: format!(
            "Open this link within 5 minutes to choose a new password:\n\n{link}\n\nIf you did not ask for this, ignore this email: your password stays as it is."
        ),
        html: format!(
            "<p><a href=\"{link}\">Choose a new password</a> within 5 minutes.</p><p>If you did not ask for this, ignore this email: your password stays as it is.</p>"
        ),
    }
}

/// Sent after a reset or change, so an owner whose password someone else changed hears of it.
pub fn password_changed(to: &str, app_url: &str) -> Mail {
    Mail {
        to: to.to_owned(),
        subject: "Your Chatman password was changed".to_owned(),
        text: format!(
            "The password of your Chatman account was just changed, and every session was logged out.\n\nIf this was not you, reset your password now at {app_url}/forgot-password."
        ),
        html: format!(
            "<p>The password of your Chatman account was just changed, and every session was logged out.</p><p>If this was not you, <a href=\"{app_url}/forgot-password\">reset your password now</a>.</p>"
        ),
    }
}
