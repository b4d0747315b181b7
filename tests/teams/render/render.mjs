// Render Clearance's Adaptive Cards with the official `adaptivecards` package in headless
// Chromium, with markdown processed by markdown-it (as the Adaptive Cards designer does), so
// text that markdown would reformat shows up. Input: a JSON file
// {"cards": [{"name", "card", "expect": {"actions": [verbs], "inputs": n, "text": [...]}}]}.
// Fails (exit 1) when a card has parse or validation events, does not render, lacks the
// expected actions or texts, or contains any element markdown made (bold, italics, code,
// links, lists, headings, quotes). Writes <name>.png per card into the output directory and
// a report (with each card's facts as rendered) to stdout.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import puppeteer from "puppeteer-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const [input, outDir] = process.argv.slice(2);
if (!input || !outDir) {
  console.error("usage: node render.mjs cards.json out-dir");
  process.exit(2);
}
const { cards } = JSON.parse(fs.readFileSync(input, "utf8"));
fs.mkdirSync(outDir, { recursive: true });
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "clearance-chromium-"));
const lib = path.join(here, "node_modules", "adaptivecards", "dist", "adaptivecards.min.js");
const markdown = path.join(here, "node_modules", "markdown-it", "dist", "markdown-it.min.js");
const MARKUP = "strong, em, b, i, code, pre, a, ul, ol, li, h1, h2, h3, h4, h5, h6, blockquote, s, del, img, hr";

const browser = await puppeteer.launch({
  executablePath,
  headless: true,
  userDataDir,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
  timeout: 60000,
});
const failures = [];
const report = [];
try {
  const page = await browser.newPage();
  // Phone width: on-call engineers approve from their phones.
  await page.setViewport({ width: 390, height: 800, deviceScaleFactor: 2 });
  await page.setContent(`<!doctype html><html><head><meta charset="utf-8"><style>
    body { font-family: "Segoe UI", system-ui, sans-serif; margin: 0; padding: 12px; background: #f5f5f5; }
    .card { background: #fff; border-radius: 6px; box-shadow: 0 1px 3px rgba(0,0,0,.2); margin-bottom: 16px; }
    .ac-pushButton { padding: 6px 12px; border-radius: 4px; border: 1px solid #c8c8c8; background: #fff; font-weight: 600; }
    .ac-pushButton.style-positive { background: #464eb8; color: #fff; border-color: #464eb8; }
    .ac-pushButton.style-destructive { color: #c4314b; border-color: #c4314b; }
    .ac-input { width: 100%; box-sizing: border-box; padding: 6px; border: 1px solid #c8c8c8; border-radius: 4px; }
  </style></head><body><div id="cards"></div></body></html>`);
  await page.addScriptTag({ path: lib });
  await page.addScriptTag({ path: markdown });
  await page.evaluate(() => {
    const md = window.markdownit();
    AdaptiveCards.AdaptiveCard.onProcessMarkdown = (text, result) => {
      result.outputHtml = md.render(text);
      result.didProcess = true;
    };
  });
  const latest = await page.evaluate(() => AdaptiveCards.Versions.latest.toString());

  for (const item of cards) {
    const result = await page.evaluate((item, MARKUP) => {
      const AC = AdaptiveCards;
      const card = new AC.AdaptiveCard();
      const context = new AC.SerializationContext();
      card.parse(item.card, context);
      const events = [];
      for (let i = 0; i < context.eventCount; i++) events.push(context.getEventAt(i).message);
      for (const e of card.validateProperties().validationEvents) events.push(e.message);
      const actions = [];
      for (let i = 0; i < card.getActionCount(); i++) {
        const a = card.getActionAt(i);
        actions.push({ type: a.getJsonTypeName(), verb: a.verb, title: a.title, data: a.data });
      }
      const holder = document.createElement("div");
      holder.className = "card";
      holder.id = "card-" + item.name;
      const rendered = card.render();
      if (rendered) holder.appendChild(rendered);
      document.getElementById("cards").appendChild(holder);
      const buttons = [...holder.querySelectorAll("button")].map((b) => b.textContent.trim());
      const inputs = holder.querySelectorAll("input, textarea").length;
      const text = holder.innerText;
      const markup = [...holder.querySelectorAll(MARKUP)].map((e) => e.outerHTML);
      // Each FactSet as rendered: its table rows, title cell and value cell.
      const factsets = [...holder.querySelectorAll(".ac-factset")].map((table) =>
        [...table.querySelectorAll("tr")].map((row) => [...row.querySelectorAll("td")].map((td) => td.innerText)));
      return { name: item.name, version: card.version ? card.version.toString() : "", events, actions,
               buttons, inputs, text, markup, factsets, rendered: Boolean(rendered) };
    }, item, MARKUP);
    const problems = [];
    if (!result.rendered) problems.push("did not render");
    if (result.events.length) problems.push("parse/validation events: " + result.events.join("; "));
    const verbs = result.actions.map((a) => a.verb);
    const expected = item.expect.actions;
    if (JSON.stringify(verbs) !== JSON.stringify(expected)) problems.push(`actions ${JSON.stringify(verbs)} != ${JSON.stringify(expected)}`);
    if (result.actions.some((a) => a.type !== "Action.Execute" || !a.data || !a.data.approval_id)) problems.push("actions must be Action.Execute with data.approval_id");
    if (result.buttons.length !== expected.length) problems.push(`rendered ${result.buttons.length} buttons, expected ${expected.length}`);
    if (result.inputs !== item.expect.inputs) problems.push(`rendered ${result.inputs} inputs, expected ${item.expect.inputs}`);
    if (result.markup.length) problems.push("markdown made elements: " + result.markup.join(" "));
    for (const needle of item.expect.text || []) {
      if (!result.text.includes(needle)) problems.push(`text lacks ${JSON.stringify(needle)}`);
    }
    const element = await page.$("#card-" + item.name);
    await element.screenshot({ path: path.join(outDir, `${item.name}.png`) });
    report.push({ ...result, problems, latest });
    if (problems.length) failures.push(`${item.name}: ${problems.join(" | ")}`);
  }
} finally {
  await browser.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
// exitCode, not exit(): exit() drops what a pipe has not taken yet of a long report.
process.exitCode = failures.length ? 1 : 0;
process.stdout.write(JSON.stringify({ report, failures }, null, 2) + "\n");
