// The dashboard entry point; the pages arrive with the dashboard work (issue 3).
const status = document.getElementById("status");
const r = await fetch("/v1/auth/setup");
const body = await r.json();
status.textContent = body.open ? "Open the setup link printed by signet server." : "Signed out.";
