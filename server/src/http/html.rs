//! Small pages the server writes itself, outside the Leptos app.

/// Text as it may stand in HTML, in an element or a quoted attribute.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    #[test]
    fn markup_in_text_stays_text() {
        assert_eq!(super::escape(r#"<b a="1" c='2'>&</b>"#), "&lt;b a=&quot;1&quot; c=&#39;2&#39;&gt;&amp;&lt;/b&gt;");
    }
}
