import { h } from '../dom';
import { fmtClock } from '../format';
import { feed } from '../traffic-feed';

/** One line saying where the live numbers come from and how fresh they are. */
export function feedNote(): HTMLElement {
  const at = feed.latest ? ` · updated ${fmtClock(feed.latest.at)}:${String(new Date(feed.latest.at).getSeconds()).padStart(2, '0')}` : '';
  const text: Record<typeof feed.status, string> = {
    connecting: 'Connecting to live traffic…',
    live: `Live (1-minute window)${at}`,
    polling: `Polling every 2 s (no stream)${at}`,
    unavailable: `Live traffic is not available: ${feed.detail}.`,
    offline: `Live traffic interrupted: ${feed.detail}${at}`,
  };
  return h('p', { class: `feed-note feed-${feed.status}`, 'data-feed': feed.status }, h('i', { class: 'dot', 'aria-hidden': 'true' }), text[feed.status]);
}
