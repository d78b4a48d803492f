#!/usr/bin/env bash
# Builds tfdrift's release artifacts for falcoctl and Helm, in target/package/:
#   tfdrift-<version>-linux-x86_64.tar.gz    the plugin (libtfdrift.so at the root, as falcoctl installs it)
#   tfdrift-<version>-linux-aarch64.tar.gz   the same for arm64, when this machine can build it
#   tfdrift-rules-<version>.tar.gz           rules/tfdrift_rules.yaml (CloudTrail)
#   tfdrift-gcp-rules-<version>.tar.gz       rules/tfdrift_gcp_rules.yaml (GCP Cloud Audit Logs, new)
#   index.yaml                               falcoctl index entries for both artifacts
#   push.sh                                  the falcoctl commands that push them (not run here)
#
# Checks on the way, each failing the script: the .so needs no glibc newer than MAX_GLIBC (default 2.36, what
# tfdrift has been checked against; Falco's image is based on Wolfi since Falco 0.40, whose glibc is newer), it
# exports the plugin API's entry points, and the name, version and required plugin API it reports through the
# C ABI (read with Python's ctypes from the built file) are Cargo's and what the artifacts declare.
#
# The push commands (push.sh) tag each artifact with its full version and the floating tags <major>.<minor>,
# <major> and latest, as the official plugins are tagged, and give each rules artifact one --depends-on per
# plugin of its rules file's required_plugin_versions (falcoctl reads `a|b` in one flag as "a or b") and its
# required_engine_version as a requirement. The two rules files are two artifacts, because each depends on its
# own source plugin (cloudtrail, gcpaudit): installing the GCP rules must not pull in the cloudtrail plugin.
#
# Environment: OCI_REGISTRY (default ghcr.io), OCI_REPOSITORY (default acme/falco: the artifacts are pushed to
# <registry>/<repository>/plugin/tfdrift, .../ruleset/tfdrift-rules and .../ruleset/tfdrift-gcp-rules),
# MAX_GLIBC, OUT (default
# target/package). A release build takes minutes, so the tests do not run it; they run
# `scripts/package.sh --print-push <plugin API version>`, which prints the push commands for this version and
# builds nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-target/package}
MAX_GLIBC=${MAX_GLIBC:-2.36}
OCI_REGISTRY=${OCI_REGISTRY:-ghcr.io}
OCI_REPOSITORY=${OCI_REPOSITORY:-acme/falco}
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
[ -n "$VERSION" ] || { echo "no version in Cargo.toml" >&2; exit 1; }

# The floating tags beside the full version: 0.1.0 is also 0.1, 0 and latest.
floating_tags() {
    local version=${1%%[-+]*}
    local major=${version%%.*} rest=${version#*.}
    printf '%s %s %s latest' "$1" "$major.${rest%%.*}" "$major"
}

# The rules files: artifact name, then file.
RULES_ARTIFACTS=("tfdrift-rules:rules/tfdrift_rules.yaml" "tfdrift-gcp-rules:rules/tfdrift_gcp_rules.yaml")

# A rules file's required_plugin_versions, one `name:version` a line.
rules_dependencies() {
    awk '/^- required_plugin_versions:/ { inside = 1; next }
         inside && /^- / { exit }
         inside && $1 == "-" && $2 == "name:" { name = $3 }
         inside && $1 == "version:" && name != "" { print name ":" $2; name = "" }' "$1"
}

# A rules file's required_engine_version as falcoctl's semver requirement (an integer N is 0.N.0).
rules_engine_version() {
    local v
    v=$(sed -n 's/^- required_engine_version: *"\{0,1\}\([0-9.]*\)"\{0,1\} *$/\1/p' "$1")
    [ -n "$v" ] || { echo "no required_engine_version in $1" >&2; exit 1; }
    case $v in
        *.*) echo "$v" ;;
        *) echo "0.$v.0" ;;
    esac
}

# Writes the falcoctl push commands for the plugin (API: its required plugin API; the remaining arguments
# are platform:tarball pairs) and each rules file to stdout.
push_commands() {
    local api=$1 tag p dep entry artifact file
    shift
    echo "#!/usr/bin/env bash"
    echo "# Pushes tfdrift $VERSION to $OCI_REGISTRY/$OCI_REPOSITORY (log in first: falcoctl registry auth basic ...)."
    echo "set -euo pipefail"
    echo "cd \"\$(dirname \"\$0\")\""
    printf 'falcoctl registry push %s/%s/plugin/tfdrift:%s --type plugin --version %s \\\n' \
        "$OCI_REGISTRY" "$OCI_REPOSITORY" "$VERSION" "$VERSION"
    printf '    --requires plugin_api_version:%s' "$api"
    for tag in $(floating_tags "$VERSION"); do
        printf ' --tag %s' "$tag"
    done
    for p in "$@"; do
        printf ' \\\n    --platform %s' "${p%%:*}"
    done
    for p in "$@"; do
        printf ' \\\n    %s' "$(basename "${p#*:}")"
    done
    echo
    for entry in "${RULES_ARTIFACTS[@]}"; do
        artifact=${entry%%:*} file=${entry#*:}
        printf 'falcoctl registry push %s/%s/ruleset/%s:%s --type rulesfile --version %s \\\n' \
            "$OCI_REGISTRY" "$OCI_REPOSITORY" "$artifact" "$VERSION" "$VERSION"
        printf '    --requires engine_version_semver:%s' "$(rules_engine_version "$file")"
        for dep in $(rules_dependencies "$file"); do
            printf ' --depends-on %s' "$dep"
        done
        for tag in $(floating_tags "$VERSION"); do
            printf ' --tag %s' "$tag"
        done
        printf ' \\\n    %s-%s.tar.gz\n' "$artifact" "$VERSION"
    done
}

if [ "${1:-}" = "--print-push" ]; then
    [ -n "${2:-}" ] || { echo "usage: $0 --print-push <plugin API version>" >&2; exit 2; }
    push_commands "$2" "linux/amd64:tfdrift-$VERSION-linux-x86_64.tar.gz"
    exit 0
fi

rm -rf "$OUT"
mkdir -p "$OUT"

# The newest GLIBC_x.y symbol version a library needs.
max_glibc() {
    local symbols
    symbols=$(objdump -T "$1")
    grep -o 'GLIBC_[0-9][0-9.]*' <<<"$symbols" | sed 's/GLIBC_//' | sort -V | tail -n 1
}

# Checks one built .so and reports what Falco will read from it. Prints the required plugin API version.
check_so() {
    local so=$1 arch=$2
    local needed
    needed=$(max_glibc "$so")
    if [ "$(printf '%s\n%s\n' "$needed" "$MAX_GLIBC" | sort -V | tail -n 1)" != "$MAX_GLIBC" ]; then
        echo "$so needs GLIBC_$needed, newer than MAX_GLIBC ($MAX_GLIBC): build on an older distribution, or raise MAX_GLIBC to the glibc of the Falco image you run" >&2
        exit 1
    fi
    local symbols
    symbols=$(objdump -T "$so")
    for symbol in plugin_get_required_api_version plugin_init plugin_get_fields plugin_extract_fields; do
        grep -qw "$symbol" <<<"$symbols" || { echo "$so does not export $symbol" >&2; exit 1; }
    done
    echo "$arch: $(du -h "$so" | cut -f1), needs GLIBC_$needed at most (limit $MAX_GLIBC)" >&2
    # Only the host's architecture can be loaded here.
    if [ "$arch" = "$(uname -m)" ]; then
        python3 - "$so" "$VERSION" <<'EOF'
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
def text(name):
    f = getattr(lib, name)
    f.restype = ctypes.c_char_p
    return f().decode()
name, version, api = text("plugin_get_name"), text("plugin_get_version"), text("plugin_get_required_api_version")
if name != "tfdrift" or version != sys.argv[2]:
    sys.exit(f"the plugin says {name} {version}, Cargo says tfdrift {sys.argv[2]}")
print(api)
EOF
    fi
}

# The plugin, x86_64 (or whatever the host is: target/release is the host's build).
echo "building the release library (this takes a few minutes)" >&2
cargo build --release --locked --lib
host=$(uname -m)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
strip --strip-unneeded -o "$stage/libtfdrift.so" target/release/libtfdrift.so
API=$(check_so "$stage/libtfdrift.so" "$host")
tar -C "$stage" -czf "$OUT/tfdrift-$VERSION-linux-$host.tar.gz" libtfdrift.so
platforms=("linux/$( [ "$host" = x86_64 ] && echo amd64 || echo arm64 ):$OUT/tfdrift-$VERSION-linux-$host.tar.gz")

# aarch64 when the toolchain has the target and a cross linker; otherwise say how (docs/GUIDE.md).
other=aarch64
[ "$host" = aarch64 ] && other=x86_64
if rustup target list --installed 2>/dev/null | grep -qx "$other-unknown-linux-gnu" \
    && command -v "$other-linux-gnu-gcc" >/dev/null; then
    linker_var="CARGO_TARGET_$(echo "$other" | tr '[:lower:]' '[:upper:]')_UNKNOWN_LINUX_GNU_LINKER"
    env "$linker_var=$other-linux-gnu-gcc" cargo build --release --locked --lib --target "$other-unknown-linux-gnu"
    mkdir -p "$stage/$other"
    "$other-linux-gnu-strip" --strip-unneeded -o "$stage/$other/libtfdrift.so" \
        "target/$other-unknown-linux-gnu/release/libtfdrift.so"
    check_so "$stage/$other/libtfdrift.so" "$other" >/dev/null
    tar -C "$stage/$other" -czf "$OUT/tfdrift-$VERSION-linux-$other.tar.gz" libtfdrift.so
    platforms+=("linux/$( [ "$other" = x86_64 ] && echo amd64 || echo arm64 ):$OUT/tfdrift-$VERSION-linux-$other.tar.gz")
else
    echo "no $other-unknown-linux-gnu target or $other-linux-gnu-gcc here: build the $other plugin on" \
        "an $other host with this script (docs/GUIDE.md, \"Build and publish\")" >&2
fi

# The rules, a tarball per file (each holds its file at the root, as falcoctl installs it into /etc/falco).
for entry in "${RULES_ARTIFACTS[@]}"; do
    artifact=${entry%%:*} file=${entry#*:}
    cp "$file" "$stage/"
    tar -C "$stage" -czf "$OUT/$artifact-$VERSION.tar.gz" "$(basename "$file")"
done

# falcoctl index entries: append them to your index.yaml (served over HTTPS) or add the refs directly.
cat >"$OUT/index.yaml" <<EOF
- name: tfdrift
  type: plugin
  registry: $OCI_REGISTRY
  repository: $OCI_REPOSITORY/plugin/tfdrift
  description: Terraform drift for CloudTrail and (new) GCP Cloud Audit Logs events, as tfdrift.* fields for Falco rules
  home: https://github.com/tfdrift/tfdrift
  keywords: [terraform, drift, cloudtrail, aws, gcp, gcpaudit, iac]
  license: Apache-2.0
  maintainers:
    - name: tfdrift
      email: tfdrift@users.noreply.github.com
  sources: [https://github.com/tfdrift/tfdrift]
- name: tfdrift-rules
  type: rulesfile
  registry: $OCI_REGISTRY
  repository: $OCI_REPOSITORY/ruleset/tfdrift-rules
  description: Falco rules for Terraform drift, hand-made resources and state bucket tampering
  home: https://github.com/tfdrift/tfdrift
  keywords: [terraform, drift, cloudtrail, aws, iac]
  license: Apache-2.0
  maintainers:
    - name: tfdrift
      email: tfdrift@users.noreply.github.com
  sources: [https://github.com/tfdrift/tfdrift]
- name: tfdrift-gcp-rules
  type: rulesfile
  registry: $OCI_REGISTRY
  repository: $OCI_REPOSITORY/ruleset/tfdrift-gcp-rules
  description: Falco rules for Terraform drift in Google Cloud (gcpaudit), hand-made resources and state bucket writes
  home: https://github.com/tfdrift/tfdrift
  keywords: [terraform, drift, gcp, gcpaudit, iac]
  license: Apache-2.0
  maintainers:
    - name: tfdrift
      email: tfdrift@users.noreply.github.com
  sources: [https://github.com/tfdrift/tfdrift]
EOF

# The push commands. falcoctl's `artifact follow` checks plugin_api_version and engine_version_semver against
# the running Falco before it installs a new version; `artifact install` (the Helm chart's init container)
# does not check them (docs/GUIDE.md).
push_commands "$API" "${platforms[@]}" >"$OUT/push.sh"
chmod +x "$OUT/push.sh"

echo "required plugin API: $API" >&2
ls -l "$OUT" >&2
