import { Box, Text } from 'ink';
import type { Page } from './connection-table.js';
import { clip } from './format.js';
import { type HeaderLine, headerLineText } from './header-feed.js';

export interface HeadersPanelProps {
  page: Page<HeaderLine>;
  /** Lines kept (after the filter). */
  matching: number;
  skipped: number;
  /** Why the datapath reports no headers, if it does not. */
  unavailable: string | null;
  raw: boolean;
  /** Service id to the name shown on each line. */
  serviceNames: ReadonlyMap<number, string>;
  width: number;
  /** The highlighted line (index in the feed), where lines can be opened. */
  selected?: number | null;
}

/** Lines for the feed, newest first: decoded header and TLVs, or the raw hex with `raw`. */
export function headerTexts(
  lines: readonly HeaderLine[],
  serviceNames: ReadonlyMap<number, string>,
  raw: boolean,
): string[] {
  return lines.map((line) =>
    headerLineText(line, { raw, service: serviceNames.get(line.serviceId) ?? `svc${line.serviceId}` }),
  );
}

/** The injected-headers feed from the events ring buffer. */
export function HeadersPanel(props: HeadersPanelProps) {
  const { page, width } = props;
  const title = [
    `HEADERS ${props.matching} recent, newest first`,
    props.raw ? 'raw hex (x: decoded)' : 'decoded (x: raw hex)',
    page.above + page.below > 0
      ? `lines ${page.offset + 1}-${page.offset + page.rows.length} of ${props.matching}`
      : '',
    props.skipped > 0 ? `${props.skipped} skipped (burst)` : '',
  ]
    .filter(Boolean)
    .join('  ');
  const texts = headerTexts(page.rows, props.serviceNames, props.raw);
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate-end">
        {clip(title, width)}
      </Text>
      {texts.length === 0 ? (
        <Text dimColor wrap="truncate-end">
          {clip(
            props.unavailable ?? 'no headers yet (they appear as connections to PPv2 services start)',
            width,
          )}
        </Text>
      ) : (
        texts.map((text, i) => (
          <Text
            // biome-ignore lint/suspicious/noArrayIndexKey: positional lines of a scrolling feed
            key={i}
            color={page.rows[i]?.kind === 'failure' ? 'red' : undefined}
            inverse={page.offset + i === props.selected}
            wrap="truncate-end"
          >
            {clip(text, width)}
          </Text>
        ))
      )}
    </Box>
  );
}
