// The CMS page: plain JavaScript, no build step. It talks to the peer that serves it: the cms
// service over the peer's HTTP API (POST /api/cms/{handler}), and a name's updates as
// Server-Sent Events (GET /api/names/{name}/watch). The wallet is the browser's EIP-1193
// provider (window.ethereum): it signs the login message; no key reaches the page or the peer.
const $ = (id) => document.getElementById(id);
const say = (text) => { $("status").textContent = text; };

async function call(handler, body = {}) {
  const response = await fetch(`/api/cms/${handler}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) {
    const error = new Error(answer.message);
    error.code = answer.error;
    error.hint = answer.hint;
    throw error;
  }
  return answer;
}

const hex = (text) =>
  "0x" + Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, "0")).join("");

async function logIn(event) {
  event.preventDefault();
  if (!window.ethereum) {
    say("No wallet found: this page needs an EIP-1193 wallet (MetaMask or another).");
    return;
  }
  try {
    say("Asking your wallet to sign in…");
    const [address] = await window.ethereum.request({ method: "eth_requestAccounts" });
    const passphrase = $("passphrase").value;
    const signature = await window.ethereum.request({
      method: "personal_sign",
      params: [hex("peerkit login\n" + passphrase), address],
    });
    say("Deriving your keys on your peer…");
    show(await call("login", { address, signature, passphrase }));
    say("Logged in.");
  } catch (error) {
    say(`Login failed: ${error.message}`);
  }
}

function show(account) {
  $("login").hidden = true;
  $("app").hidden = false;
  $("address").textContent = account.address;
  $("reader-card").value = JSON.stringify({ id: account.reader.id, box: account.reader.box });
  const own = new Set(account.posts.map((post) => post.name));
  $("posts").replaceChildren(
    ...account.posts.map((post) => entry(post.label, post.name, ` (${post.readers.length} readers)`)),
  );
  // the Me DAG's index: names this user has opened (shared with them)
  $("readable").replaceChildren(
    ...account.names.filter((name) => !own.has(name)).map((name) => entry("open", name, "")),
  );
}

function entry(label, name, note) {
  const item = document.createElement("li");
  const open = document.createElement("button");
  open.type = "button";
  open.textContent = label;
  open.addEventListener("click", () => { $("name").value = name; openPost(); });
  item.append(open, ` ${name}${note}`);
  return item;
}

function fileAsBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result.split(",")[1]);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

async function save(event) {
  event.preventDefault();
  $("save").disabled = true;
  try {
    const readers = $("readers").value.split("\n").map((l) => l.trim()).filter(Boolean)
      .map((line) => JSON.parse(line));
    const file = $("logo").files[0];
    const body = {
      label: $("label").value,
      title: $("title").value,
      body: $("body").value,
      readers,
      ...(file ? { logo: await fileAsBase64(file), logo_type: file.type } : {}),
    };
    say("Sealing and publishing…");
    const post = await call("publish", body);
    say(`Published ${post.label} as ${post.name}`);
    document.body.dataset.published = post.name;
    show(await call("get_account"));
  } catch (error) {
    say(`Not saved: ${error.message}`);
  } finally {
    $("save").disabled = false;
  }
}

let watching = null;

async function openPost(event) {
  event?.preventDefault();
  const name = $("name").value.trim();
  if (watching) watching.close();
  await render(name);
  // live: the stream starts with the record the peer holds now (so a version published
  // since the read above is not missed), then each new one; a version already shown is not
  // read again
  watching = new EventSource(`/api/names/${encodeURIComponent(name)}/watch`);
  watching.addEventListener("record", (event) => {
    if (JSON.parse(event.data).sequence > (newest[name] ?? -1)) render(name);
  });
}

// the newest version rendered of each name: renders overlap (a record can arrive while the
// previous one is still being read), and one that read an older version must not replace it
const newest = {};

async function render(name) {
  try {
    const post = await call("read_post", { name });
    if (post.sequence < (newest[name] ?? -1)) return;
    newest[name] = post.sequence;
    $("post-refused").hidden = true;
    $("post").hidden = false;
    $("post-title").textContent = post.title;
    $("post-body").replaceChildren(
      ...post.body.split("\n\n").map((text) => Object.assign(document.createElement("p"), { textContent: text })),
    );
    $("post-version").textContent = String(post.sequence);
    const logo = $("post-logo");
    logo.hidden = !post.logo;
    if (post.logo) logo.src = `data:${post.logo_type};base64,${post.logo}`;
    document.body.dataset.shown = `${name}#${post.sequence}`;
    if (!document.body.dataset.listed?.includes(name)) {
      document.body.dataset.listed = `${document.body.dataset.listed ?? ""} ${name}`;
      show(await call("get_account")); // a first read adds the name to the Me DAG's index
    }
  } catch (error) {
    $("post").hidden = true;
    const refused = $("post-refused");
    refused.hidden = false;
    refused.textContent = error.code === "not_a_reader"
      ? "You are not a reader of this post: its author has not shared it with you."
      : `Cannot open it: ${error.message}`;
    document.body.dataset.shown = `${name}#refused`;
  }
}

$("login-form").addEventListener("submit", logIn);
$("editor").addEventListener("submit", save);
$("open-form").addEventListener("submit", openPost);
call("get_account").then(show, () => {}); // already logged in on this peer: straight in
