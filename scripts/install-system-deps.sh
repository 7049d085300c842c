#!/usr/bin/env bash
# Debian packages the test suite's real servers need: OpenSSH (SFTP), unixODBC with the
# SQLite and PostgreSQL drivers (pyodbc), PostgreSQL (ledger), Redis (workers) and
# Chromium (browser tests). Installs only what is missing, and only as root on Debian;
# elsewhere it says what to install and carries on (tests that need a missing server fail).
set -euo pipefail

packages=(openssh-server unixodbc unixodbc-dev libsqliteodbc odbc-postgresql postgresql redis-server chromium)

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

# Debian's odbcinst.ini turns psqlODBC's communication log on (a file per connection in
# /tmp); a connection string cannot turn it off, the driver entry can.
quiet_psqlodbc() {
    if [ "$(id -u)" -eq 0 ] && [ -f /etc/odbcinst.ini ]; then
        sed -i 's/^CommLog=1/CommLog=0/' /etc/odbcinst.ini
    fi
}

if [ ${#missing[@]} -eq 0 ]; then
    quiet_psqlodbc
    echo "system packages: all present"
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "system packages missing (install them as root with apt-get): ${missing[*]}" >&2
    exit 0
fi
echo "system packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
quiet_psqlodbc
echo "system packages: installed ${missing[*]}"
