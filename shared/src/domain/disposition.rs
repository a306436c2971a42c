//! How a downloaded file is served: the `Content-Disposition` a presigned GET makes the storage
//! answer. A file someone sent is a download (`attachment`) under its declared name, so a text
//! or PDF file opened from its link never runs as a page of the storage's origin; only the
//! image types the web app shows in the chat stay `inline` (browsers never run those). The
//! name is sanitised: the quoted ASCII `filename` keeps printable characters other than `"`
//! and `\`, and `filename*` (RFC 6266 / RFC 5987) carries the full UTF-8 name percent-encoded,
//! control characters dropped, so no name can end the header or add another parameter.

/// Images the web app renders in a message (`web/js/views/room.js`); never SVG.
const INLINE_IMAGES: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/avif",
];

/// `Content-Disposition` for a file named `filename` of `content_type`.
pub fn content_disposition(filename: &str, content_type: &str) -> String {
    let kind = if INLINE_IMAGES.contains(&content_type) {
        "inline"
    } else {
        "attachment"
    };
    let visible: String = filename.chars().filter(|c| !c.is_control()).collect();
    let ascii: String = visible
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect();
    let ascii = if ascii.trim().is_empty() {
        "file".to_owned()
    } else {
        ascii
    };
    format!(
        "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{}",
        percent_encode(&visible)
    )
}

/// RFC 3986 percent-encoding of everything but unreserved characters.
pub fn percent_encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_download_under_their_name_and_app_images_stay_inline() {
        assert_eq!(
            content_disposition("report.pdf", "application/pdf"),
            "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
        );
        assert!(content_disposition("notes.txt", "text/plain").starts_with("attachment;"));
        assert!(content_disposition("cat.png", "image/png").starts_with("inline;"));
        assert!(content_disposition("x.heic", "image/heic").starts_with("attachment;"));
    }

    #[test]
    fn no_name_can_break_out_of_the_header() {
        let d = content_disposition(
            "a\"; filename=evil.html\r\nX-Injected: 1\\.txt",
            "text/plain",
        );
        assert!(!d.contains('\r') && !d.contains('\n'), "{d}");
        assert_eq!(
            d.matches('"').count(),
            2,
            "only the quotes around the name: {d}"
        );
        assert!(
            d.starts_with("attachment; filename=\"a_; filename=evil.htmlX-Injected: 1_.txt\""),
            "{d}"
        );
        let utf8 = content_disposition("résumé.pdf", "application/pdf");
        assert!(utf8.contains("filename=\"r_sum_.pdf\""), "{utf8}");
        assert!(
            utf8.ends_with("filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"),
            "{utf8}"
        );
        assert!(content_disposition("\u{7}", "text/plain").contains("filename=\"file\""));
    }
}
