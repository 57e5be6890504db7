import { Box, Text } from 'ink';
import { HELP_TEXT, KEY_HELP, type UiState } from './dashboard-reducer.js';
import { clip, fit } from './format.js';

/** The key-hint footer, or the filter prompt while one is typed. */
export function Footer({ ui, width }: { ui: UiState; width: number }) {
  if (ui.editing !== null) {
    return (
      <Text inverse wrap="truncate-end">
        {fit(`filter: ${ui.editing}_   (Enter apply, Esc cancel, Ctrl+U clear)`, width)}
      </Text>
    );
  }
  const hints = KEY_HELP.map(([keys, what]) => `${keys} ${what}`).join('  ');
  return (
    <Text inverse wrap="truncate-end">
      {fit(hints, width)}
    </Text>
  );
}

/** The `?` screen: every key, generated from the same table as the footer. */
export function HelpPanel({ width, rows }: { width: number; rows: number }) {
  const lines = ['KEYS', ...HELP_TEXT].slice(0, rows);
  return (
    <Box flexDirection="column">
      {lines.map((line, i) => (
        <Text key={line} bold={i === 0} wrap="truncate-end">
          {clip(line, width)}
        </Text>
      ))}
    </Box>
  );
}
