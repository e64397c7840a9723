#!/usr/bin/env bash
# The API walkthrough of docs/api.md as one script: run it against `npm start` in another terminal.
#
#   bash docs/walkthrough.sh                        # BASE=http://127.0.0.1:3000, password benteng-demo-only
#   BASE=http://127.0.0.1:3100 SEED_DEMO_PASSWORD=… bash docs/walkthrough.sh
#
# Each step prints what it did and checks the status it must get; the first unexpected answer stops the
# script with exit status 1 and shows the body. It changes demo data (an invoice, a ticket, a document,
# an invitation and a new member each time it runs) and ends every session it starts. The test suite
# runs it against a demo process (test/e2e/walkthrough.spec.ts), so a line that stops working fails CI.
# Needs bash, curl, openssl and node (for reading JSON).
set -euo pipefail

BASE=${BASE:-http://127.0.0.1:3000}
PASSWORD=${SEED_DEMO_PASSWORD:-benteng-demo-only}
RUN=$(date +%s)-$$

# call EXPECTED METHOD PATH [curl options…]: the body goes to $BODY; anything but EXPECTED stops the script.
call() {
  local expected=$1 method=$2 path=$3
  shift 3
  local out
  out=$(curl -sS -X "$method" "$BASE$path" -w '\n%{http_code}' "$@")
  STATUS=${out##*$'\n'}
  BODY=${out%$'\n'*}
  if [ "$STATUS" != "$expected" ]; then
    printf 'FAIL  %s %s: expected %s, got %s\n%s\n' "$method" "$path" "$expected" "$STATUS" "$BODY" >&2
    exit 1
  fi
  printf 'ok    %s %-48s %s\n' "$method" "$path" "$STATUS"
}
# field NAME: a top-level field of $BODY (JSON), empty when absent.
field() { node -e 'const v = JSON.parse(process.argv[1])[process.argv[2]]; process.stdout.write(v == null ? "" : String(v))' "$BODY" "$1"; }

echo '# Authentication on the public surface'
call 200 POST /v1/auth/login -H 'content-type: application/json' \
  -d "{\"email\":\"owner@acme-jakarta.example\",\"password\":\"$PASSWORD\"}"
ACCESS=$(field accessToken)
REFRESH=$(field refreshToken)

call 200 GET /v1/me -H "authorization: Bearer $ACCESS"
call 200 GET /v1/members -H "authorization: Bearer $ACCESS"
call 200 POST /v1/auth/refresh -H 'content-type: application/json' -d "{\"refreshToken\":\"$REFRESH\"}"
call 401 POST /v1/auth/refresh -H 'content-type: application/json' -d "{\"refreshToken\":\"$REFRESH\"}"   # reuse: the session ends
call 401 GET /v1/me -H "authorization: Bearer $ACCESS"                                                      # revoked at once

# The consultant belongs to both tenants: log in to the first, then switch by slug.
call 200 POST /v1/auth/login -H 'content-type: application/json' \
  -d "{\"email\":\"consultant@benteng.example\",\"password\":\"$PASSWORD\"}"
C=$(field accessToken)
call 200 POST /v1/auth/switch-tenant -H "authorization: Bearer $C" -H 'content-type: application/json' -d '{"tenant":"nusantara-logistik"}'
C2=$(field accessToken)
call 204 POST /v1/auth/logout -H "authorization: Bearer $C"
call 204 POST /v1/auth/logout -H "authorization: Bearer $C2"

echo '# Features (a new login: the reuse above ended the first session)'
call 200 POST /v1/auth/login -H 'content-type: application/json' \
  -d "{\"email\":\"owner@acme-jakarta.example\",\"password\":\"$PASSWORD\"}"
ACCESS=$(field accessToken)

call 200 GET '/v1/invoices?limit=2&sort=-createdAt' -H "authorization: Bearer $ACCESS"
call 201 POST /v1/invoices -H "authorization: Bearer $ACCESS" -H 'content-type: application/json' -H "idempotency-key: demo-$RUN" \
  -d "{\"number\":\"ACME-$RUN\",\"customer\":{\"name\":\"PT Baru\"},\"lines\":[{\"description\":\"Konsultasi\",\"quantity\":2,\"unitPriceMinor\":500000}]}"
INVOICE=$(field id)
ETAG=$(curl -sS -o /dev/null -D - "$BASE/v1/invoices/$INVOICE" -H "authorization: Bearer $ACCESS" | tr -d '\r' | sed -n 's/^etag: //Ip')
call 200 POST "/v1/invoices/$INVOICE/issue" -H "authorization: Bearer $ACCESS" -H "if-match: $ETAG"
call 201 POST /v1/tickets -H "authorization: Bearer $ACCESS" -H 'content-type: application/json' -d '{"subject":"Printer rusak","body":"Lantai 3"}'
printf 'a,b\n1,2\n' > "${TMPDIR:-/tmp}/benteng-demo.csv"
call 201 POST /v1/documents -H "authorization: Bearer $ACCESS" -F "file=@${TMPDIR:-/tmp}/benteng-demo.csv"

# Invite someone (the token is shown once; there is no mailer, so you pass it on), who then creates their account.
call 201 POST /v1/invitations -H "authorization: Bearer $ACCESS" -H 'content-type: application/json' \
  -d "{\"email\":\"baru-$RUN@acme-jakarta.example\",\"role\":\"member\"}"
INV=$(field token)
call 201 POST /v1/invitations/register -H 'content-type: application/json' -d "{\"token\":\"$INV\",\"password\":\"a-long-new-password\"}"

echo '# The partner surface (the demo client that npm start prints)'
call 200 GET /v1/partner-clients -H "authorization: Bearer $ACCESS"
CLIENT_ID=$(node -e 'const c = JSON.parse(process.argv[1]).items.find((x) => x.name === "Demo ERP (sandbox)"); process.stdout.write(c ? c.id : "")' "$BODY")
[ -n "$CLIENT_ID" ] || { echo 'FAIL  the demo partner client is not seeded (AUTH_TOKEN_PEPPER unset?)' >&2; exit 1; }
# Its key and secret are derived from the demo password (prisma/seed.ts, demoPartnerCredentials).
derive() { printf '%s' "$1" | openssl dgst -sha256 -hmac "$PASSWORD" -binary | openssl base64 -A | tr '+/' '-_' | tr -d '='; }
KEY=bt_test_demoacmeerpa_$(derive benteng-demo-partner-key)
CLIENT_SECRET=bt_cs_$(derive benteng-demo-partner-secret)

call 200 GET '/partner/v1/invoices?limit=2' -H "authorization: Bearer $KEY"
call 201 POST /partner/v1/tickets -H "authorization: Bearer $KEY" -H 'content-type: application/json' -d '{"subject":"Sinkronisasi gagal","body":"ERP batch 42"}'
# Client credentials: a token of at most 10 minutes, narrowed to one scope.
call 200 POST /partner/oauth/token -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials -d scope=invoices:read
TOKEN=$(field access_token)
call 200 GET "/partner/v1/invoices/$INVOICE" -H "authorization: Bearer $TOKEN"
call 403 POST /partner/v1/tickets -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"subject":"x","body":"y"}'   # scope invoices:read only

call 204 POST /v1/auth/logout -H "authorization: Bearer $ACCESS"
echo 'walkthrough complete'
