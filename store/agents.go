package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookflow/hookflow/workflows"
)

// AgentColumns are the columns of a stored agent, in the order ScanAgent
// reads them and AgentValues gives them.
const AgentColumns = `name, labels, token_id, token_hash, created_at, last_seen, version`

// Registry is Store's Agents methods. Their SQL is the same in both dialects
// but for the placeholders, so a backend embeds a Registry rather than
// writing them again.
type Registry struct {
	read, write Querier
	at          TimeArg
	now         func() time.Time
}

// NewRegistry returns the Agents methods that read through read and write
// through write, turning times into column values with at; now stamps an
// agent added without CreatedAt.
func NewRegistry(read, write Querier, at TimeArg, now func() time.Time) Registry {
	return Registry{read: read, write: write, at: at, now: now}
}

// AddAgent registers a; a name or token id taken already is ErrConflict.
func (g Registry) AddAgent(ctx context.Context, a *Agent) error {
	if err := CheckAgent(a); err != nil {
		return err
	}
	stored := *a
	if stored.CreatedAt.IsZero() {
		stored.CreatedAt = g.now()
	}
	values, err := AgentValues(&stored, g.at)
	if err != nil {
		return fmt.Errorf("add agent %s: %w", a.Name, err)
	}
	ph := g.write.Placeholder
	query := `INSERT INTO agents (` + AgentColumns + `) VALUES (` + placeholders(ph, 1, len(values)) + `)
		ON CONFLICT DO NOTHING RETURNING name`
	names, err := queryAll(ctx, g.write, scanString, query, values...)
	if err == nil && len(names) == 0 {
		err = ErrConflict
	}
	if err != nil {
		return fmt.Errorf("add agent %s: %w", a.Name, err)
	}
	return nil
}

// GetAgent returns agent name.
func (g Registry) GetAgent(ctx context.Context, name string) (*Agent, error) {
	return g.one(ctx, "agent "+name, `name`, name)
}

// AgentByToken returns the agent whose token has id tokenID.
func (g Registry) AgentByToken(ctx context.Context, tokenID string) (*Agent, error) {
	// The id is not a secret, but it is not for messages either.
	return g.one(ctx, "agent by token", `token_id`, tokenID)
}

// ListAgents returns every agent, by name.
func (g Registry) ListAgents(ctx context.Context) ([]*Agent, error) {
	agents, err := queryAll(ctx, g.read, ScanAgent, `SELECT `+AgentColumns+` FROM agents ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	if agents == nil {
		agents = []*Agent{}
	}
	return agents, nil
}

// RemoveAgent deletes agent name.
func (g Registry) RemoveAgent(ctx context.Context, name string) error {
	names, err := queryAll(ctx, g.write, scanString,
		`DELETE FROM agents WHERE name = `+g.write.Placeholder(1)+` RETURNING name`, name)
	if err == nil && len(names) == 0 {
		err = ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("remove agent %s: %w", name, err)
	}
	return nil
}

// SeenAgent records that agent name was heard from at now, running version;
// ErrNotFound when there is no such agent.
func (g Registry) SeenAgent(ctx context.Context, name, version string, now time.Time) error {
	ph := g.write.Placeholder
	names, err := queryAll(ctx, g.write, scanString,
		`UPDATE agents SET last_seen = `+ph(1)+`, version = `+ph(2)+` WHERE name = `+ph(3)+` RETURNING name`,
		g.at(now), ValidText(version), name)
	if err == nil && len(names) == 0 {
		err = ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("agent %s seen: %w", name, err)
	}
	return nil
}

// one returns the agent whose column equals value.
func (g Registry) one(ctx context.Context, what, column, value string) (*Agent, error) {
	agents, err := queryAll(ctx, g.read, ScanAgent,
		`SELECT `+AgentColumns+` FROM agents WHERE `+column+` = `+g.read.Placeholder(1), value)
	if err == nil && len(agents) == 0 {
		err = ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return agents[0], nil
}

// CheckAgent checks what a Store relies on in an agent to add: a name, a
// token id and a token hash, and text that both databases keep as it is
// (valid UTF-8 without NUL bytes).
func CheckAgent(a *Agent) error {
	if a.Name == "" || a.TokenID == "" || len(a.TokenHash) == 0 {
		return workflows.Errorf(workflows.EInvalid, "add agent %q: a name, a token id and a token hash are required", a.Name)
	}
	for _, s := range append([]string{a.Name, a.TokenID, a.Version}, a.Labels...) {
		if !utf8.ValidString(s) || strings.Contains(s, "\x00") {
			return workflows.Errorf(workflows.EInvalid, "add agent %q: %q is not valid UTF-8 text", a.Name, s)
		}
	}
	return nil
}

// ScanAgent reads a row of AgentColumns. Labels are never nil.
func ScanAgent(row Row) (*Agent, error) {
	var (
		a             Agent
		labels        []byte
		created, seen timeColumn
	)
	if err := row.Scan(&a.Name, &labels, &a.TokenID, &a.TokenHash, &created, &seen, &a.Version); err != nil {
		return nil, err
	}
	a.CreatedAt, a.LastSeen = created.t, seen.t
	var err error
	if a.Labels, err = scanList(labels); err != nil {
		return nil, fmt.Errorf("agent %s: labels: %w", a.Name, err)
	}
	if a.Labels == nil {
		a.Labels = []string{}
	}
	return &a, nil
}

// AgentValues returns agent a's values for AgentColumns: times through at,
// the zero time as NULL.
func AgentValues(a *Agent, at TimeArg) ([]any, error) {
	labels := a.Labels
	if labels == nil {
		labels = []string{}
	}
	list, err := json.Marshal(labels)
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	return []any{a.Name, list, a.TokenID, a.TokenHash, at(a.CreatedAt), nullTime(a.LastSeen, at), a.Version}, nil
}

// ValidText makes s storable in a TEXT column of either database as it is
// read back: PostgreSQL refuses NUL bytes and invalid UTF-8 there, so both
// become U+FFFD.
func ValidText(s string) string {
	if utf8.ValidString(s) && !strings.Contains(s, "\x00") {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// placeholders lists the dialect's placeholders from the first to the n-th,
// comma-separated.
func placeholders(ph func(int) string, first, n int) string {
	list := make([]string, n)
	for i := range list {
		list[i] = ph(first + i)
	}
	return strings.Join(list, ", ")
}

// scanString reads a row of one text.
func scanString(row Row) (string, error) {
	var s string
	err := row.Scan(&s)
	return s, err
}
