"""schemathesis hooks of tests/api/run.sh."""

import schemathesis

# A tus PATCH body (application/offset+octet-stream, tus 1.0.0 "PATCH") is raw bytes,
# sent like any octet stream.
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")

# A subtitle file (text/vtt, the tracks API) is text, sent as plain text.
schemathesis.serializer.alias("text/vtt", "text/plain")
