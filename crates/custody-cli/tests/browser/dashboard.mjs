// The dashboard walked as a person would, in Debian's Chromium: from the products page to a
// release, a component search, the finding, and its advisory. Each page is screenshotted and
// checked with axe-core. Run by tests/dashboard.rs:
//   node dashboard.mjs BASE_URL SCREENSHOT_DIR
// Prints one JSON object (the pages seen, their axe violations by impact); exits 1 when a step
// fails or a page has a critical violation.
import { chromium } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';

const [base, out] = process.argv.slice(2);
if (!base || !out) {
  console.error('usage: node dashboard.mjs BASE_URL SCREENSHOT_DIR');
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  // As root in a container Chromium needs --no-sandbox; the rest keep it off the network.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const pages = [];
let failure = null;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  const seen = async (name, mustShow) => {
    for (const text of mustShow) {
      await page.getByText(text, { exact: false }).first().waitFor();
    }
    await page.screenshot({ path: `${out}/${name}.png`, fullPage: true });
    const axe = await new AxeBuilder({ page }).analyze();
    const by = (impact) => axe.violations.filter((v) => v.impact === impact).map((v) => v.id);
    pages.push({
      name, url: page.url(), title: await page.title(),
      critical: by('critical'), serious: by('serious'), moderate: by('moderate'),
      // Rules that held: none would mean axe did not look at the page.
      passes: axe.passes.length,
    });
  };

  await page.goto(`${base}/ui`);
  await seen('products', ['Products', 'passes']);

  await page.getByRole('link', { name: 'app', exact: true }).click();
  await seen('product', ['Open findings over releases', 'Components added and removed']);

  await page.getByRole('link', { name: '1.0.0', exact: true }).click();
  await seen('release', ['Provenance', 'verified', 'RUSTSEC-2021-0003']);

  await page.getByLabel('Name or package URL').fill('smallvec');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL(/q=smallvec/);
  const rows = page.locator('#component-table tbody tr');
  const count = await rows.count();
  const first = count > 0 ? await rows.first().innerText() : '';
  if (count !== 1 || !first.includes('smallvec')) {
    throw new Error(`the search for smallvec showed ${count} components: ${first}`);
  }
  await seen('release-search', ['1 of 11 components']);

  await page.getByRole('link', { name: 'RUSTSEC-2021-0003' }).click();
  await seen('advisory', ['Buffer overflow in SmallVec::insert_many', 'Shipped releases it affects', 'app 1.0.0']);

  await page.goto(`${base}/ui/log`);
  await seen('log', ['Transparency log', 'Signatures on the checkpoint']);

  await page.goto(`${base}/ui/admin`);
  await seen('admin-refused', ['Error 401']);
} catch (e) {
  failure = String(e && e.stack ? e.stack : e);
} finally {
  await browser.close();
}
console.log(JSON.stringify({ pages, failure }));
const critical = pages.some((p) => p.critical.length > 0);
process.exit(failure || critical ? 1 : 0);
