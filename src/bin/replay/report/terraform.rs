//! What the reports tell Terraform users to run: the two ways to resolve a drift, and the import block that
//! adopts a resource made by hand, with every value quoted for where it goes (a POSIX shell, an HCL string, a
//! Terraform identifier).

/// How to resolve a drift, both ways, as shell commands run in the Terraform configuration that holds the
/// address: accept the change into the state and the code, or put back what the code says.
pub struct Resolution {
    /// Accepting: what to run and do.
    pub accept: Vec<String>,
    /// Reverting: what to run.
    pub revert: Vec<String>,
}

/// How to resolve drift on `address` (of the finding's change kind).
pub fn resolution(address: &str, change: Option<&str>) -> Resolution {
    let target = shell_quote(&format!("-target={address}"));
    let accept = if change == Some("delete") {
        vec![
            format!("terraform apply -refresh-only {target}"),
            format!(
                "# the resource is gone: the refresh drops it from the state; remove {address} from the code"
            ),
            "terraform plan   # no changes left".to_owned(),
        ]
    } else {
        vec![
            format!("terraform apply -refresh-only {target}"),
            format!("# then change the code of {address} to the values the state now holds"),
            "terraform plan   # no changes left".to_owned(),
        ]
    };
    let revert = vec![
        format!("terraform plan {target}   # shows the change Terraform will undo"),
        format!("terraform apply {target}"),
    ];
    Resolution { accept, revert }
}

/// An argument quoted for a POSIX shell when it holds anything but plain characters (a `for_each` key's
/// brackets and quotes: `-target='aws_instance.web["a"]'`).
pub fn shell_quote(arg: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_.=/:,+@%".contains(c);
    if arg.chars().all(plain) {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

// The import file's naming and blocks, so that a report's import block and the file's are the same.
pub use super::super::imports::{identifier, import_block};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting() {
        assert_eq!(
            shell_quote("-target=module.a.aws_s3_bucket.b"),
            "-target=module.a.aws_s3_bucket.b"
        );
        assert_eq!(
            shell_quote(r#"-target=aws_lambda_function.worker["simple"]"#),
            r#"'-target=aws_lambda_function.worker["simple"]'"#
        );
        assert_eq!(shell_quote("a'b c"), r"'a'\''b c'");
    }
}
