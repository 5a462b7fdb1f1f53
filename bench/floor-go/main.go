// The Go SDK floor of the benchmark (bench/run.ts, mode floor-go): PlaceOrder's happy path with the
// same six activities calling the same services over HTTP (same bearer token, same idempotency keys
// `<workflowId>:<step>`, same request bodies as activities/*.ts), no saga runtime. Not part of the
// product: it exists to measure what a Temporal worker costs per order in the SDK with the least
// overhead, so the TypeScript SDK's and the saga runtime's shares can be told apart.
//
// Env: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TASK_QUEUE, ORDERS_URL, INVENTORY_URL, PAYMENTS_URL,
// SHIPPING_URL, SERVICE_TOKEN, CARD_ENCRYPTION_KEY, HTTP_TIMEOUT_MS, HTTP_CONNECTIONS and the
// worker's knobs with the TS worker's defaults (config/worker.ts).
package main

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// WorkflowType is the workflow type name the bench starts on this worker's task queue.
const WorkflowType = "FloorPlaceOrder"

type Line struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

type Address struct {
	Name       string `json:"name"`
	Line1      string `json:"line1"`
	City       string `json:"city"`
	PostalCode string `json:"postalCode"`
	Country    string `json:"country"`
}

// Input is PlaceOrder's input (workflows/place-order.ts), without the run options.
type Input struct {
	OrderID    string `json:"orderId"`
	CustomerID string `json:"customerId"`
	Items      []Line `json:"items"`
	Payment    struct {
		CardToken string `json:"cardToken"`
		Last4     string `json:"last4"`
	} `json:"payment"`
	ShippingAddress Address `json:"shippingAddress"`
}

type ReservedLine struct {
	SKU            string `json:"sku"`
	Quantity       int    `json:"quantity"`
	ProductName    string `json:"productName"`
	NameVersion    int    `json:"nameVersion"`
	UnitPriceCents int    `json:"unitPriceCents"`
}

type Reservation struct {
	TotalCents int            `json:"totalCents"`
	Lines      []ReservedLine `json:"lines"`
}

type Result struct {
	OrderID    string `json:"orderId"`
	TotalCents int    `json:"totalCents"`
	PaymentID  string `json:"paymentId"`
	ShipmentID string `json:"shipmentId"`
}

// FloorPlaceOrder: createOrder ∥ reserveStock → chargePayment ∥ scheduleShipment → confirmOrder → commitStock.
func FloorPlaceOrder(ctx workflow.Context, in Input) (Result, error) {
	forward := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Second, MaximumAttempts: 20,
		},
	})
	retriable := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Second},
	})
	key := func(step string) string { return workflow.GetInfo(ctx).WorkflowExecution.ID + ":" + step }
	var a *Activities
	create := workflow.ExecuteActivity(forward, a.CreateOrder, key("createOrder"), in)
	reserve := workflow.ExecuteActivity(forward, a.ReserveStock, key("reserveStock"), in)
	var order map[string]any
	var res Reservation
	errCreate := create.Get(ctx, &order)
	errReserve := reserve.Get(ctx, &res)
	if err := errors.Join(errCreate, errReserve); err != nil {
		return Result{}, err
	}
	charge := workflow.ExecuteActivity(forward, a.ChargePayment, key("chargePayment"), in.OrderID, res.TotalCents, in.Payment.CardToken)
	ship := workflow.ExecuteActivity(forward, a.ScheduleShipment, key("scheduleShipment"), in.OrderID, in.ShippingAddress)
	var payment, shipment struct {
		ID string `json:"id"`
	}
	errCharge := charge.Get(ctx, &payment)
	errShip := ship.Get(ctx, &shipment)
	if err := errors.Join(errCharge, errShip); err != nil {
		return Result{}, err
	}
	if err := workflow.ExecuteActivity(forward, a.ConfirmOrder, key("confirmOrder"), in.OrderID, res.Lines).Get(ctx, nil); err != nil {
		return Result{}, err
	}
	if err := workflow.ExecuteActivity(retriable, a.CommitStock, key("commitStock"), in.OrderID).Get(ctx, nil); err != nil {
		return Result{}, err
	}
	return Result{OrderID: in.OrderID, TotalCents: res.TotalCents, PaymentID: payment.ID, ShipmentID: shipment.ID}, nil
}

// Activities call the four services as activities/http-client.ts does.
type Activities struct {
	http                                  *http.Client
	token                                 string
	orders, inventory, payments, shipping string
	cardKey                               []byte
}

func (a *Activities) call(ctx context.Context, base, method, path string, body any, key string, out any) error {
	buf, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(buf))
	if err != nil {
		return err
	}
	req.Header.Set("accept", "application/json")
	req.Header.Set("content-type", "application/json")
	req.Header.Set("authorization", "Bearer "+a.token)
	req.Header.Set("idempotency-key", key)
	resp, err := a.http.Do(req)
	if err != nil {
		return temporal.NewApplicationError(fmt.Sprintf("%s %s: %v", method, path, err), "SERVICE_UNREACHABLE")
	}
	defer resp.Body.Close()
	text, err := io.ReadAll(resp.Body)
	if err != nil {
		return temporal.NewApplicationError(fmt.Sprintf("%s %s: %v", method, path, err), "SERVICE_UNREACHABLE")
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out == nil {
			var v any
			return json.Unmarshal(text, &v)
		}
		return json.Unmarshal(text, out)
	}
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(text, &e)
	business := resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != 408 && resp.StatusCode != 429 &&
		resp.StatusCode != 401 && resp.StatusCode != 403
	msg := fmt.Sprintf("%s %s → %d: %.200s", method, path, resp.StatusCode, text)
	if business {
		return temporal.NewNonRetryableApplicationError(msg, e.Error.Code, nil)
	}
	return temporal.NewApplicationError(msg, "SERVICE_UNAVAILABLE")
}

func (a *Activities) CreateOrder(ctx context.Context, key string, in Input) (map[string]any, error) {
	var out map[string]any
	err := a.call(ctx, a.orders, "POST", "/orders",
		map[string]any{"orderId": in.OrderID, "customerId": in.CustomerID, "lines": in.Items}, key, &out)
	return out, err
}

func (a *Activities) ReserveStock(ctx context.Context, key string, in Input) (Reservation, error) {
	var out Reservation
	err := a.call(ctx, a.inventory, "POST", "/reservations", map[string]any{"orderId": in.OrderID, "lines": in.Items}, key, &out)
	return out, err
}

// openCardNumber is lib/auth/card-token.ts's: v1.<iv>.<ciphertext>.<tag>, AES-256-GCM with the order ID as AAD.
func (a *Activities) openCardNumber(token, orderID string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 4 || parts[0] != "v1" {
		return "", errors.New("not a card token")
	}
	dec := base64.RawURLEncoding
	iv, err1 := dec.DecodeString(parts[1])
	ct, err2 := dec.DecodeString(parts[2])
	tag, err3 := dec.DecodeString(parts[3])
	if err := errors.Join(err1, err2, err3); err != nil {
		return "", err
	}
	block, err := aes.NewCipher(a.cardKey)
	if err != nil {
		return "", err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return "", err
	}
	plain, err := gcm.Open(nil, iv, append(ct, tag...), []byte(orderID))
	return string(plain), err
}

func (a *Activities) ChargePayment(ctx context.Context, key, orderID string, amountCents int, cardToken string) (map[string]any, error) {
	card, err := a.openCardNumber(cardToken, orderID)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError("card token cannot be opened", "CARD_TOKEN_INVALID", err)
	}
	var out map[string]any
	err = a.call(ctx, a.payments, "POST", "/charges",
		map[string]any{"orderId": orderID, "amountCents": amountCents, "cardNumber": card}, key, &out)
	return out, err
}

func (a *Activities) ScheduleShipment(ctx context.Context, key, orderID string, address Address) (map[string]any, error) {
	var out map[string]any
	err := a.call(ctx, a.shipping, "POST", "/shipments", map[string]any{"orderId": orderID, "address": address}, key, &out)
	return out, err
}

func (a *Activities) ConfirmOrder(ctx context.Context, key, orderID string, lines []ReservedLine) (map[string]any, error) {
	type confirmLine struct {
		SKU            string `json:"sku"`
		ProductName    string `json:"productName"`
		NameVersion    int    `json:"nameVersion"`
		UnitPriceCents int    `json:"unitPriceCents"`
	}
	body := make([]confirmLine, len(lines))
	for i, l := range lines {
		body[i] = confirmLine{l.SKU, l.ProductName, l.NameVersion, l.UnitPriceCents}
	}
	var out map[string]any
	err := a.call(ctx, a.orders, "POST", "/orders/"+url.PathEscape(orderID)+"/confirm", map[string]any{"lines": body}, key, &out)
	return out, err
}

func (a *Activities) CommitStock(ctx context.Context, key, orderID string) (map[string]any, error) {
	var out map[string]any
	err := a.call(ctx, a.inventory, "POST", "/reservations/"+url.PathEscape(orderID)+"/commit", map[string]any{}, key, &out)
	return out, err
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	n, err := strconv.Atoi(env(name, strconv.Itoa(def)))
	if err != nil || n <= 0 {
		log.Fatalf("%s must be a positive integer", name)
	}
	return n
}

func main() {
	cardKey, err := base64.StdEncoding.DecodeString(os.Getenv("CARD_ENCRYPTION_KEY"))
	if err != nil || len(cardKey) != 32 {
		log.Fatal("CARD_ENCRYPTION_KEY must be 32 bytes, base64-encoded")
	}
	conns := envInt("HTTP_CONNECTIONS", 64)
	acts := &Activities{
		http: &http.Client{
			Timeout:   time.Duration(envInt("HTTP_TIMEOUT_MS", 5000)) * time.Millisecond,
			Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, IdleConnTimeout: 30 * time.Second},
		},
		token:     os.Getenv("SERVICE_TOKEN"),
		orders:    os.Getenv("ORDERS_URL"),
		inventory: os.Getenv("INVENTORY_URL"),
		payments:  os.Getenv("PAYMENTS_URL"),
		shipping:  os.Getenv("SHIPPING_URL"),
		cardKey:   cardKey,
	}
	c, err := client.Dial(client.Options{
		HostPort:  env("TEMPORAL_ADDRESS", "localhost:7233"),
		Namespace: env("TEMPORAL_NAMESPACE", "default"),
		Logger:    quietLogger{},
	})
	if err != nil {
		log.Fatalf("connecting to Temporal: %v", err)
	}
	defer c.Close()
	worker.SetStickyWorkflowCacheSize(envInt("WORKER_MAX_CACHED_WORKFLOWS", 1000))
	w := worker.New(c, env("TASK_QUEUE", "floor-go"), worker.Options{
		MaxConcurrentActivityExecutionSize:     envInt("WORKER_MAX_CONCURRENT_ACTIVITIES", 200),
		MaxConcurrentWorkflowTaskExecutionSize: envInt("WORKER_MAX_CONCURRENT_WORKFLOW_TASKS", 100),
		MaxConcurrentWorkflowTaskPollers:       envInt("WORKER_WORKFLOW_TASK_POLLS", 10),
		MaxConcurrentActivityTaskPollers:       envInt("WORKER_ACTIVITY_TASK_POLLS", 10),
	})
	w.RegisterWorkflowWithOptions(FloorPlaceOrder, workflow.RegisterOptions{Name: WorkflowType})
	w.RegisterActivity(acts)
	if err := w.Start(); err != nil {
		log.Fatalf("starting the worker: %v", err)
	}
	fmt.Println("worker running")
	<-worker.InterruptCh()
	w.Stop()
}

// quietLogger keeps the SDK's info lines off the hot path (the TS worker logs at WARN).
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(msg string, kv ...any) {
	log.Println(append([]any{"WARN", msg}, kv...)...)
}
func (quietLogger) Error(msg string, kv ...any) {
	log.Println(append([]any{"ERROR", msg}, kv...)...)
}
