import { Box, Text } from 'ink';
import { pageRows } from './connection-table.js';
import { type DetailItem, detailLines } from './detail-view.js';
import { clip } from './format.js';

export interface DetailPanelProps {
  item: DetailItem;
  /** The name shown for the row's service. */
  service: string;
  scroll: number;
  /** Lines available below the title. */
  rows: number;
  width: number;
}

/** The row Enter opened, whole: scrollable, with how many lines are above and below. */
export function DetailPanel(props: DetailPanelProps) {
  const lines = detailLines(props.item, props.service, props.width);
  const page = pageRows(lines, props.scroll, props.rows);
  const where =
    page.above + page.below > 0
      ? `  lines ${page.offset + 1}-${page.offset + page.rows.length} of ${lines.length} (↑↓ PgUp PgDn)`
      : '';
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate-end">
        {clip(`DETAIL${where}  Esc closes`, props.width)}
      </Text>
      {page.rows.map((line, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: positional lines
        <Text key={i} wrap="truncate-end">
          {clip(line, props.width)}
        </Text>
      ))}
    </Box>
  );
}
