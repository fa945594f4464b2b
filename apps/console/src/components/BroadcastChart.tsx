import { areaPaths, type BroadcastStatistics, describeStatistics, type Sample, segments, STATUS_LABEL, STATUSES } from '../broadcast-chart';

const BAR_WIDTH = 300;
const BAR_HEIGHT = 24;
const AREA_WIDTH = 300;
const AREA_HEIGHT = 80;

/**
 * A broadcast's recipients by status: a stacked bar of where they stand now and, once the
 * screen has watched the broadcast for a while, a stacked area of how that changed. Both are
 * images with a text alternative, and the legend under them gives every count.
 */
export function BroadcastChart({ stats, samples }: { stats: BroadcastStatistics; samples: readonly Sample[] }) {
  const parts = segments(stats);
  const first = samples[0];
  const last = samples[samples.length - 1];
  const spanMs = first && last ? last.at - first.at : 0;
  const seconds = Math.round(spanMs / 1000);
  // A change over less than two seconds says nothing the bar does not.
  const areas = spanMs >= 2000 ? areaPaths(samples, AREA_WIDTH, AREA_HEIGHT) : [];
  return (
    <figure className="bc-chart">
      <svg
        className="bc-bar"
        viewBox={`0 0 ${BAR_WIDTH} ${BAR_HEIGHT}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`Recipients by status: ${describeStatistics(stats)}`}
      >
        <rect x={0} y={0} width={BAR_WIDTH} height={BAR_HEIGHT} className="bc-empty" />
        {parts.map((p) => (
          <rect key={p.status} x={p.start * BAR_WIDTH} y={0} width={p.width * BAR_WIDTH} height={BAR_HEIGHT} className={`bc-${p.status}`}>
            <title>
              {STATUS_LABEL[p.status]}: {p.count}
            </title>
          </rect>
        ))}
      </svg>
      {areas.length > 0 && (
        <svg
          className="bc-area"
          viewBox={`0 0 ${AREA_WIDTH} ${AREA_HEIGHT}`}
          preserveAspectRatio="none"
          role="img"
          aria-label={`Over the last ${seconds} s. At the start: ${describeStatistics(first!.stats)} Now: ${describeStatistics(last!.stats)}`}
        >
          {areas.map((a) => (
            <path key={a.status} d={a.d} className={`bc-${a.status}`} />
          ))}
        </svg>
      )}
      {areas.length > 0 && (
        <p className="hint" aria-hidden="true">
          Above: the last {seconds} s, oldest on the left.
        </p>
      )}
      <figcaption>
        {/* The legend is the figures: each status's colour, name and count. */}
        <dl className="facts bc-legend">
          <div className="fact">
            <dt>Total</dt>
            <dd data-stat="total">{stats.total}</dd>
          </div>
          {STATUSES.filter((s) => s !== 'unknown' || stats.unknown > 0).map((s) => (
            <div key={s} className="fact">
              <dt>
                <span className={`bc-swatch bc-${s}`} aria-hidden="true" />
                {STATUS_LABEL[s]}
              </dt>
              <dd data-stat={s}>{stats[s]}</dd>
            </div>
          ))}
        </dl>
      </figcaption>
    </figure>
  );
}
