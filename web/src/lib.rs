//! The meshchat web app (Leptos, CSR). Built in the next issue.
